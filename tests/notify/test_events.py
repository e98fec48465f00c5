"""Events found in synced data reach a webhook on loopback once each: a break, a
recovery, still failing after N hours, a missed cron fire, a connection unhealthy for N
minutes. Syncs run here; sends run inline (eager) through Apprise's json:// to a real
HTTP receiver."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.models import Delivery, NotificationRule, SyncRun
from dashboard.notify import events
from dashboard.sync import sync_connection
from providers.base.sim import Clock
from providers.jobsplatform.sim import JobsPlatformSimulator
from tests.conftest import TOKEN, make_connection

from .conftest import SCALE, finish_run, make_rule, pipeline_of, stored

pytestmark = pytest.mark.usefixtures("eager")


@pytest.fixture
def sync(django_capture_on_commit_callbacks):
    """A sync whose after-commit hooks (the sync signals, then the sends) run."""

    def run(connection):
        with django_capture_on_commit_callbacks(execute=True):
            return sync_connection(connection.pk)

    return run


def kinds(receiver) -> list[str]:
    return [m["title"].split(" ", 1)[0] + m["type"] for m in receiver.messages]


def test_a_break_and_a_recovery_each_send_one_message(jp, jp_sim, receiver, sync, settings):
    settings.DASHBOARD_URL = "https://ci.example.com"
    sync(jp)
    finish_run(jp_sim, "db-migrate", passes=True)
    sync(jp)  # the pipeline passes before anyone watches it
    make_rule(receiver.url(), pipeline=pipeline_of(jp_sim, "db-migrate"))

    broken = finish_run(jp_sim, "db-migrate", passes=False)
    sync(jp)
    sync(jp)
    finish_run(jp_sim, "db-migrate", passes=False)  # still broken: no news
    sync(jp)

    [message] = receiver.messages
    build = stored(jp_sim, broken)
    assert message["type"] == "failure"
    assert message["title"] == "✗ db-migrate broke"
    assert f"https://ci.example.com/jobsplatform/jp/build/{build.external_id}" in message["message"]
    assert "Jobs platform" in message["message"]

    fixed = finish_run(jp_sim, "db-migrate", passes=True)
    sync(jp)
    sync(jp)

    assert [m["title"] for m in receiver.messages] == ["✗ db-migrate broke", "✓ db-migrate recovered"]
    assert (
        receiver.messages[1]["type"] == "success"
        and stored(jp_sim, fixed).external_id in receiver.messages[1]["message"]
    )
    assert list(Delivery.objects.values_list("status", flat=True)) == ["sent", "sent"]


def test_the_same_finished_build_seen_twice_is_recorded_once(jp, jp_sim, receiver, sync):
    sync(jp)
    finish_run(jp_sim, "db-migrate", passes=True)
    sync(jp)
    make_rule(receiver.url(), pipeline=pipeline_of(jp_sim, "db-migrate"))
    broken = finish_run(jp_sim, "db-migrate", passes=False)
    sync(jp)

    # An action storing the provider's answer, or a second sync after a lost lease,
    # reports the same build again.
    build = stored(jp_sim, broken)
    for _ in range(3):
        events.on_batch_applied(None, connection=jp, changed_build_ids=[build.pk], finished_build_ids=[build.pk])

    assert Delivery.objects.count() == 1
    assert len(receiver.messages) == 1


def test_rules_only_hear_of_what_happens_after_they_are_made_and_in_their_scope(jp, jp_sim, receiver, sync):
    sync(jp)
    finish_run(jp_sim, "db-migrate", passes=True)
    finish_run(jp_sim, "backfill-events", passes=True)
    sync(jp)
    make_rule(receiver.url(), pipeline=pipeline_of(jp_sim, "backfill-events"))
    late = make_rule(receiver.url("late"), pipeline=pipeline_of(jp_sim, "db-migrate"))
    broken = finish_run(jp_sim, "db-migrate", passes=False)
    NotificationRule.objects.filter(pk=late.pk).update(created_at=timezone.now() + timedelta(hours=1))
    sync(jp)

    assert stored(jp_sim, broken).state == "failed"
    assert receiver.messages == [], "db-migrate is not backfill-events, and the late rule came after"


@pytest.fixture
def behind(db):
    """A platform whose history ended ten minutes ago (its clock is that far behind)."""

    def serve(minutes: float):
        sim = JobsPlatformSimulator(
            TOKEN, seed=21, scale=SCALE, clock=Clock(start=time.time() - minutes * 60, manual=True)
        )
        return sim.serve()

    sims = []
    yield lambda minutes: sims.append(serve(minutes)) or sims[-1]
    for sim in sims:
        sim.stop()


def test_a_new_rule_does_not_replay_history(behind, receiver, sync):
    sim = behind(10)
    make_rule(receiver.url(), still_failing_hours=1, on_missed_schedule=True, unhealthy_minutes=1)
    sync(make_connection(sim, "jp", options=sim.connection_options()))
    assert receiver.messages == []


def test_an_old_rule_hears_only_of_recent_events(behind, receiver, sync, settings):
    sim = behind(10)
    make_rule(receiver.url(), still_failing_hours=1, on_missed_schedule=True, unhealthy_minutes=1)
    NotificationRule.objects.update(created_at=timezone.now() - timedelta(days=30))
    settings.NOTIFY_MAX_EVENT_AGE_HOURS = 0.1  # six minutes
    sync(make_connection(sim, "jp", options=sim.connection_options()))
    assert receiver.messages == []


def test_still_failing_after_n_hours_is_sent_once_per_streak(behind, receiver, sync):
    sim = behind(3 * 60)  # the failure below is three hours old
    jp = make_connection(sim, "jp", options=sim.connection_options())
    sync(jp)
    finish_run(sim, "db-migrate", passes=True)
    sync(jp)
    quiet = {"on_break": False, "on_recover": False}
    make_rule(receiver.url("backfills"), pipeline=pipeline_of(sim, "backfill-events"), **quiet)
    make_rule(receiver.url("everything"), **quiet)
    NotificationRule.objects.update(still_failing_hours=2, created_at=timezone.now() - timedelta(hours=4))
    first = finish_run(sim, "db-migrate", passes=False)
    sync(jp)
    finish_run(sim, "db-migrate", passes=False)
    sync(jp)
    sync(jp)

    about_migrations = [m for m in receiver.messages if m["title"].startswith("✗ db-migrate")]
    assert [m["path"] for m in about_migrations] == ["/everything"]
    message = about_migrations[0]
    assert message["title"] == "✗ db-migrate still failing after 2 h"
    assert stored(sim, first).external_id[:12] in message["message"]
    assert all(m["path"] == "/everything" for m in receiver.messages if m not in about_migrations)


def test_a_missed_cron_fire_is_sent_once(behind, receiver, sync):
    # The platform's clock runs three minutes below, clear of a quarter hour, where its
    # other schedules fire (every 15 minutes, 03:00): only the every-minute one falls due.
    into_quarter = time.time() % 900
    ahead = 0 if into_quarter < 900 - 240 else 900 - into_quarter + 30
    jp_sim = behind(-ahead / 60)
    jp = make_connection(jp_sim, "jp", options=jp_sim.connection_options(), sync_interval=1)
    sync(jp)
    make_rule(receiver.url(), on_break=False, on_recover=False, on_missed_schedule=True)
    jp_sim.pause_scheduler()  # the platform's scheduler stalls
    jp_sim.clock.advance(150)
    sync(jp)
    jp_sim.clock.advance(30)
    sync(jp)

    [message] = receiver.messages
    assert message["title"].startswith("⚠ heartbeat missed its ") and message["type"] == "warning"
    assert "* * * * *" in message["message"]


def test_a_connection_unhealthy_for_n_minutes_is_sent_once_per_outage(jp, jp_sim, receiver, sync):
    sync(jp)
    make_rule(receiver.url(), on_break=False, on_recover=False, unhealthy_minutes=5)
    NotificationRule.objects.update(created_at=timezone.now() - timedelta(hours=1))
    jp.token = "revoked-token"
    jp.save()
    sync(jp)
    assert receiver.messages == [], "not unhealthy for long enough yet"
    # The last good sync was twenty minutes ago, the outage began ten minutes ago.
    SyncRun.objects.filter(status="ok").update(started_at=timezone.now() - timedelta(minutes=20))
    SyncRun.objects.filter(status="failed").update(started_at=timezone.now() - timedelta(minutes=10))
    sync(jp)
    sync(jp)

    [message] = receiver.messages
    assert message["title"] == "⚠ jobsplatform jp unhealthy for 5 min"
    assert "auth failed" in message["message"]
    assert "revoked-token" not in message["message"]


def test_the_unhealthy_message_masks_a_credential_the_provider_echoed(jp, receiver):
    rule = make_rule(receiver.url(), on_break=False, on_recover=False, unhealthy_minutes=5)
    NotificationRule.objects.update(created_at=timezone.now() - timedelta(hours=1))
    rule.refresh_from_db()
    secret = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    jp.health = "unreachable"
    jp.last_error = f"The provider failed (502): upstream said Authorization: Bearer {secret}"
    jp.save()
    SyncRun.objects.create(connection=jp, status="failed", started_at=timezone.now() - timedelta(minutes=10))

    [event] = events.unhealthy(jp, [rule], timezone.now())

    assert "The provider failed (502)" in event.body  # the team still reads what went wrong
    assert secret not in event.body
