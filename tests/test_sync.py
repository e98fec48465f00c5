import pytest

from dashboard.models import Build, Connection, Health, Job, SyncRun
from dashboard.sync import acquire_lock, release_lock, sync_connection
from providers.base.sim import Faults


def sim_pipeline_ids(sim) -> set[str]:
    return set(sim.pipelines)


def test_first_sync_stores_every_pipeline_with_its_jobs(semaphore, semaphore_sim):
    run = sync_connection(semaphore.pk)

    assert run.status == SyncRun.Status.OK, run.error
    assert set(Build.objects.values_list("external_id", flat=True)) == sim_pipeline_ids(semaphore_sim)
    expected_jobs = {
        j.id
        for p in semaphore_sim.pipelines.values()
        for b in p.blocks
        for j in b.jobs
        if b.start is not None and b.start <= semaphore_sim.now()
    }
    assert set(Job.objects.values_list("external_id", flat=True)) == expected_jobs
    assert run.requests == semaphore_sim.count("/api/")
    semaphore.refresh_from_db()
    assert semaphore.health == Health.OK


def test_a_quiet_second_sync_writes_nothing_and_fetches_no_finished_build(semaphore, semaphore_sim, clock):
    # Let every seeded pipeline finish first.
    clock.advance(-0.0)
    sync_connection(semaphore.pk)
    for build in Build.objects.exclude(state__in=["passed", "failed", "canceled"]):
        assert build.created_at  # history builds are all finished; nothing else exists yet
    semaphore_sim.requests.clear()

    run = sync_connection(semaphore.pk)

    assert (run.created, run.updated) == (0, 0)
    described = [r.path for r in semaphore_sim.requests if "/pipelines/" in r.path]
    assert described == [], "finished pipelines must never be fetched again"


def test_builds_move_through_states_as_time_passes(semaphore, semaphore_sim, clock):
    sync_connection(semaphore.pk)
    clock.advance(31)  # one new workflow per project arrives
    sync_connection(semaphore.pk)
    new = Build.objects.filter(state__in=["queued", "running"])
    assert new.exists()
    new_ids = set(new.values_list("external_id", flat=True))

    clock.advance(600)
    run = sync_connection(semaphore.pk)

    assert run.status == SyncRun.Status.OK
    states = set(Build.objects.filter(external_id__in=new_ids).values_list("state", flat=True))
    assert states <= {"passed", "failed"}
    assert Build.objects.count() == len(semaphore_sim.pipelines)


def test_a_connection_already_syncing_is_skipped(semaphore):
    assert acquire_lock(semaphore.pk, "someone-else")
    try:
        assert sync_connection(semaphore.pk) is None
        assert not SyncRun.objects.exists()
    finally:
        release_lock(semaphore.pk, "someone-else")
    assert sync_connection(semaphore.pk) is not None


def test_a_bad_token_marks_the_connection_auth_failed(db, semaphore_sim):
    connection = Connection.objects.create(
        kind="semaphore", name="x", slug="x", base_url=semaphore_sim.url, token="wrong-token"
    )
    run = sync_connection(connection.pk)

    connection.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert connection.health == Health.AUTH_FAILED
    assert "refused the API token" in connection.last_error


def test_an_unreachable_provider_is_reported_in_words(db):
    connection = Connection.objects.create(
        kind="semaphore", name="x", slug="x", base_url="http://127.0.0.1:9", token="t"
    )
    sync_connection(connection.pk)

    connection.refresh_from_db()
    assert connection.health == Health.UNREACHABLE
    assert "Cannot connect" in connection.last_error


def test_the_sync_command_syncs_named_connections_and_says_what_happened(semaphore, semaphore_sim):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("sync", semaphore.slug, stdout=out)

    line = out.getvalue().strip()
    assert line.startswith(f"{semaphore.slug} (Semaphore): ok, ")
    assert " created, 0 updated, " in line and "requests" in line and line.endswith("health ok")
    assert SyncRun.objects.filter(connection=semaphore).count() == 1


def test_the_sync_command_refuses_unknown_slugs_and_reports_failures(semaphore, semaphore_sim):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no connection with slug nope"):
        call_command("sync", "nope")
    semaphore_sim.faults = Faults(error_rate=1.0)
    with pytest.raises(CommandError, match="1 sync"):
        call_command("sync", semaphore.slug)


def test_a_connection_whose_syncs_stopped_finishing_is_stalled(semaphore, semaphore_sim, settings):
    from datetime import timedelta

    from django.utils import timezone

    sync_connection(semaphore.pk)
    semaphore.refresh_from_db()
    assert semaphore.health_now.value == Health.OK

    # A worker died mid-sync long ago; beat keeps dispatching, nothing finishes.
    long_ago = timezone.now() - timedelta(seconds=settings.SYNC_TIME_LIMIT + 10 * semaphore.sync_interval)
    Connection.objects.filter(pk=semaphore.pk).update(last_synced_at=long_ago, next_sync_at=timezone.now())
    semaphore.refresh_from_db()

    assert semaphore.health_now.value == Health.STALLED
    assert "no sync has finished for" in semaphore.health_now.message


def test_a_connection_asked_to_wait_by_its_provider_is_not_stalled(semaphore, semaphore_sim, settings):
    from datetime import timedelta

    from django.utils import timezone

    long_ago = timezone.now() - timedelta(seconds=settings.SYNC_TIME_LIMIT + 10 * semaphore.sync_interval)
    Connection.objects.filter(pk=semaphore.pk).update(
        last_synced_at=long_ago, next_sync_at=timezone.now() + timedelta(hours=1), health=Health.DEGRADED
    )
    semaphore.refresh_from_db()

    assert semaphore.health_now.value == Health.DEGRADED


def test_a_quiet_sync_writes_only_the_connection_row_and_history_is_pruned(semaphore, semaphore_sim, settings):
    first = sync_connection(semaphore.pk)
    assert first.pk is not None, "a sync that wrote rows keeps its SyncRun"

    quiet = sync_connection(semaphore.pk)

    assert quiet.pk is None and quiet.status == SyncRun.Status.OK
    semaphore.refresh_from_db()
    assert semaphore.sync_count == 2 and semaphore.sync_requests == first.requests + quiet.requests
    settings.SYNC_RUNS_KEPT = 2
    semaphore_sim.faults = Faults(error_rate=1.0)
    for _ in range(3):
        sync_connection(semaphore.pk)
    assert SyncRun.objects.filter(connection=semaphore).count() == 2


def test_dispatch_takes_due_connections_once_and_remembers_when_they_fell_due(db):
    from datetime import timedelta

    from django.utils import timezone

    from dashboard.sync import dispatch_due

    now = timezone.now()
    due = Connection.objects.create(
        kind="semaphore", name="d", slug="d", base_url="http://127.0.0.1:9", sync_interval=60, next_sync_at=now
    )
    Connection.objects.create(
        kind="semaphore", name="l", slug="l", base_url="http://127.0.0.1:9", next_sync_at=now + timedelta(hours=1)
    )

    assert list(dispatch_due()) == [due.pk]
    assert dispatch_due() == {}, "held while it runs"
    due.refresh_from_db()
    assert abs((due.due_at - now).total_seconds()) < 1
    assert 50 < (due.next_sync_at - timezone.now()).total_seconds() <= 60


def test_a_kept_sync_run_says_when_it_started_and_the_lag_is_to_its_start(semaphore, semaphore_sim):
    # A run is saved when the sync ends; its start and the connection's lag (due ->
    # started) must still be the moment it began, not the save.
    from datetime import timedelta

    from django.utils import timezone

    semaphore_sim.faults = Faults(latency=0.1)  # a sync of several requests takes a while
    Connection.objects.filter(pk=semaphore.pk).update(due_at=timezone.now() - timedelta(seconds=2))
    before = timezone.now()

    run = sync_connection(semaphore.pk)

    run.refresh_from_db()
    assert run.pk is not None and run.duration > 0.5
    assert before <= run.started_at < before + timedelta(seconds=0.3)
    assert run.finished_at - run.started_at >= timedelta(seconds=run.duration - 0.1)
    semaphore.refresh_from_db()
    assert 2 <= semaphore.last_sync_lag < 2.3


def test_a_sync_falling_due_between_two_looks_of_beat_starts_when_due_not_at_the_next_look(db, settings, monkeypatch):
    # Beat looks every SYNC_DISPATCH_EVERY seconds; a connection due just after a look
    # would otherwise sync up to that much late, on every interval.
    from datetime import timedelta

    from django.utils import timezone

    from dashboard import tasks

    settings.SYNC_DISPATCH_EVERY = 2.0
    sent = []
    monkeypatch.setattr(tasks.sync_connection, "apply_async", lambda args, **kw: sent.append((args[0], kw)))
    monkeypatch.setattr(tasks.sync_connection, "delay", lambda pk: sent.append((pk, {})))
    now = timezone.now()

    def make(slug: str, at) -> Connection:
        return Connection.objects.create(
            kind="semaphore", name=slug, slug=slug, base_url="http://127.0.0.1:9", sync_interval=5, next_sync_at=at
        )

    overdue = make("overdue", now - timedelta(seconds=1))
    soon = make("soon", now + timedelta(seconds=1.5))
    make("later", now + timedelta(seconds=4))

    assert sorted(tasks.dispatch_due_syncs()) == sorted([overdue.pk, soon.pk])

    by_pk = dict(sent)
    assert by_pk[overdue.pk] == {}  # due: at once
    assert 1.3 < by_pk[soon.pk]["countdown"] <= 1.5  # started when it falls due
    soon.refresh_from_db()
    assert soon.due_at == now + timedelta(seconds=1.5)  # its lag is counted from then
    assert tasks.dispatch_due_syncs() == [], "held while it waits and runs"


def test_connections_that_fell_due_together_spread_over_their_interval_and_keep_their_period():
    from collections import Counter
    from datetime import timedelta

    from django.utils import timezone

    from dashboard.sync import on_slot

    moment, period = timezone.now(), timedelta(seconds=60)
    slots = {pk: on_slot(pk, moment, period) for pk in range(1000, 1100)}
    offsets = [(slot - moment).total_seconds() for slot in slots.values()]
    assert all(-30 <= offset <= 30 for offset in offsets), "moved by at most half a period"
    tenths = Counter(min(int((offset + 30) // 6), 9) for offset in offsets)
    assert all(5 <= tenths[i] <= 15 for i in range(10)), f"spread over the period: {sorted(tenths.items())}"
    for pk, slot in slots.items():
        assert on_slot(pk, slot + period, period) == slot + period, "on its slot, the period is kept exactly"
        assert on_slot(pk, slot + period + timedelta(seconds=7), period) == slot + period


def test_a_sync_sets_its_next_time_on_the_connections_slot(semaphore, semaphore_sim, settings):
    from datetime import timedelta

    from django.utils import timezone

    from dashboard.sync import on_slot

    settings.SYNC_ACTIVE_INTERVAL = semaphore.sync_interval  # one interval, running builds or not
    period = timedelta(seconds=semaphore.sync_interval)
    due = timezone.now() - timedelta(seconds=1)
    Connection.objects.filter(pk=semaphore.pk).update(due_at=due)

    sync_connection(semaphore.pk)

    semaphore.refresh_from_db()
    assert semaphore.next_sync_at == on_slot(semaphore.pk, due + period, period)
    assert abs(semaphore.next_sync_at - (due + period)) <= period / 2
    # The next sync, due on that slot, keeps the period exactly.
    Connection.objects.filter(pk=semaphore.pk).update(due_at=semaphore.next_sync_at)
    on_time = semaphore.next_sync_at
    sync_connection(semaphore.pk)
    semaphore.refresh_from_db()
    assert semaphore.next_sync_at == on_time + period


def test_a_connection_is_polled_at_the_active_interval_while_a_build_runs_and_at_its_own_once_none_does(
    semaphore, semaphore_sim, clock, settings
):
    from django.utils import timezone

    from dashboard.states import FINISHED, State

    settings.SYNC_ACTIVE_INTERVAL = 10
    Connection.objects.filter(pk=semaphore.pk).update(sync_interval=600)

    def synced() -> tuple[SyncRun, float]:
        """A sync, and the seconds until the connection's next one."""
        run = sync_connection(semaphore.pk)
        next_at = Connection.objects.values_list("next_sync_at", flat=True).get(pk=semaphore.pk)
        return run, (next_at - timezone.now()).total_seconds()

    # Its own interval is 600 s, moved onto its slot by at most half; the active one 10 s, by 5.
    run, wait = synced()
    assert run.created and wait > 250, "history only, every build finished"
    held = Build.objects.filter(connection=semaphore).first()
    Build.objects.filter(pk=held.pk).update(state=State.RUNNING, fingerprint="")  # as an earlier sync saw it
    run, wait = synced()
    assert run.updated and wait > 250, "the build held as running has finished: nothing runs"
    assert Build.objects.get(pk=held.pk).state in FINISHED
    run, wait = synced()
    assert (run.created, run.updated) == (0, 0) and wait > 250, "quiet, nothing runs"
    clock.advance(30)  # a build arrives, queued
    run, wait = synced()
    assert run.created and wait <= 16
    run, wait = synced()
    assert (run.created, run.updated) == (0, 0) and wait <= 16, "quiet, but a build is still queued"
