"""Schedules (docs/providers/jobsplatform.md, "Schedules"): what cron we accept, when the
simulator fires, and when we call a fire missed."""

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.models import Build, Schedule
from dashboard.sync import sync_connection
from providers.jobsplatform import contract as c
from providers.jobsplatform.schedule import cron_problem, fires_between, last_fire, missed_fire, next_fire

from . import support

T = datetime(2026, 3, 10, 10, 0, 30, tzinfo=UTC)


# Cron itself ----------------------------------------------------------------------------------
@pytest.mark.parametrize("expression", ["* * * * *", "*/5 * * * *", "0 3 * * *", "30 2 1 * 1-5", "0 0 29 2 *"])
def test_five_field_expressions_that_fire_are_accepted(expression):
    assert cron_problem(expression) == ""


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("* * * *", "has 4 field(s); a schedule needs 5"),
        ("0 * * * * *", "has 6 field(s)"),
        ("61 * * * *", "is not a valid cron expression"),
        ("every day", "has 2 field(s)"),
        ("0 0 30 2 *", "never fires"),
    ],
)
def test_bad_expressions_are_refused_with_the_reason(expression, reason):
    assert reason in cron_problem(expression)


def test_an_every_minute_schedule_fires_once_per_minute_boundary():
    fires = list(fires_between("* * * * *", T, T + timedelta(minutes=5)))
    assert fires == [T.replace(second=0) + timedelta(minutes=m) for m in range(1, 6)]
    assert last_fire("* * * * *", T.replace(second=0)) == T.replace(second=0), "a fire at the moment counts"


def test_a_daily_schedule_never_fires_in_a_short_window():
    assert list(fires_between("0 3 * * *", T, T + timedelta(hours=1))) == []
    assert next_fire("0 3 * * *", T) == datetime(2026, 3, 11, 3, 0, tzinfo=UTC)


# The missed rule ----------------------------------------------------------------------------
def test_a_healthy_schedule_is_not_missed():
    minute = T.replace(second=0)
    assert (
        missed_fire(
            "* * * * *",
            now=T,
            next_fire_at=minute + timedelta(minutes=1),
            last_run_at=minute,
            since=T - timedelta(days=1),
        )
        is None
    )


def test_a_fire_without_a_run_is_missed():
    minute = T.replace(second=0)
    missed = missed_fire(
        "*/5 * * * *",
        now=T + timedelta(minutes=3),
        next_fire_at=minute + timedelta(minutes=5),
        last_run_at=minute - timedelta(minutes=5),
        since=T - timedelta(days=1),
    )
    assert missed == minute


def test_a_fire_still_within_its_grace_minute_is_not_missed_yet():
    minute = T.replace(second=0)
    assert (
        missed_fire(
            "*/5 * * * *",
            now=minute + timedelta(seconds=20),
            next_fire_at=minute + timedelta(minutes=5),
            last_run_at=minute - timedelta(minutes=5),
            since=T - timedelta(days=1),
        )
        is None
    )


def test_a_stalled_scheduler_whose_next_fire_has_passed_is_missed():
    overdue = T - timedelta(minutes=3)
    assert missed_fire("0 3 * * *", now=T, next_fire_at=overdue, last_run_at=None, since=None) == overdue


def test_fires_from_before_the_schedule_was_set_are_not_expected():
    assert missed_fire("0 3 * * *", now=T, next_fire_at=None, last_run_at=None, since=T - timedelta(hours=1)) is None


# The simulator's scheduler, through a sync ------------------------------------------------------
def heartbeat_schedule(sim) -> Schedule:
    job = support.job_named(sim, "heartbeat")
    return Schedule.objects.get(external_id=f"{job.project_id}:{job.id}")


def test_an_every_minute_job_runs_every_minute_as_the_clock_moves(jp, jp_sim):
    sync_connection(jp.pk)
    heartbeat = support.job_named(jp_sim, "heartbeat")
    pipeline = support.pipeline_of(heartbeat)
    before = Build.objects.filter(pipeline=pipeline).count()

    jp_sim.clock.advance(5 * 60)
    sync_connection(jp.pk)

    new = Build.objects.filter(pipeline=pipeline).order_by("created_at")[before:]
    assert [b.created_at.second for b in new] == [0] * 5
    assert [b.triggered_by for b in new] == ["schedule"] * 5
    schedule = heartbeat_schedule(jp_sim)
    assert schedule.next_run_at.timestamp() == heartbeat.next_fire
    assert schedule.last_run_at == new[4].created_at
    assert schedule.raw["missed"] is False


def test_a_nightly_job_does_not_fire_in_ten_minutes_and_is_not_missed(jp, jp_sim):
    sync_connection(jp.pk)
    nightly = support.job_named(jp_sim, "nightly-report")
    runs_before = len(nightly.runs)

    jp_sim.clock.advance(10 * 60)
    sync_connection(jp.pk)

    assert len(nightly.runs) == runs_before
    schedule = Schedule.objects.get(external_id=f"{nightly.project_id}:{nightly.id}")
    assert (schedule.next_run_at.hour, schedule.next_run_at.minute) == (3, 0)
    assert schedule.next_run_at.timestamp() > jp_sim.now()
    assert schedule.raw["missed"] is False
    assert (schedule.last_run_at.hour, schedule.last_run_at.minute) == (3, 0), "it last fired at 03:00"


def test_a_fire_that_passes_without_a_run_is_flagged_missed(jp, jp_sim):
    sync_connection(jp.pk)
    jp_sim.pause_scheduler()

    jp_sim.clock.advance(3 * 60)
    sync_connection(jp.pk)

    schedule = heartbeat_schedule(jp_sim)
    assert schedule.raw["missed"] is True
    assert schedule.raw["missed_fire_at"] == schedule.raw["next_fire_at"], "the scheduler is stuck at that fire"


def test_fires_skipped_while_the_platform_was_down_are_missed_until_the_next_fire(jp, jp_sim):
    sync_connection(jp.pk)
    jp_sim.pause_scheduler()
    jp_sim.clock.advance(3 * 60)
    jp_sim.resume_scheduler()  # skips what fell due meanwhile; the next fire is in the future

    sync_connection(jp.pk)
    schedule = heartbeat_schedule(jp_sim)
    assert schedule.raw["missed"] is True
    assert schedule.next_run_at.timestamp() > jp_sim.now()
    # 10:03 is still within its grace minute; 10:02 is the fire that surely passed without a run.
    assert schedule.raw["missed_fire_at"] == c.format_time(schedule.next_run_at - timedelta(minutes=2))

    jp_sim.clock.advance(60)  # the next fire happens
    sync_connection(jp.pk)
    assert heartbeat_schedule(jp_sim).raw["missed"] is False


def test_a_new_schedule_fires_from_its_next_boundary_and_is_not_missed_before(jp, jp_sim, api):
    sync_connection(jp.pk)
    migrate = support.job_named(jp_sim, "db-migrate")
    api.update_job(migrate.project_id, migrate.id, {c.SCHEDULE: "*/2 * * * *"})

    sync_connection(jp.pk)
    schedule = Schedule.objects.get(external_id=f"{migrate.project_id}:{migrate.id}")
    assert schedule.cron == "*/2 * * * *" and schedule.raw["missed"] is False
    assert schedule.last_run_at is None, "it has never fired yet"

    jp_sim.clock.advance(4 * 60)
    sync_connection(jp.pk)
    schedule.refresh_from_db()
    assert schedule.last_run_at is not None and schedule.raw["missed"] is False
    assert sum(1 for r in migrate.runs if jp_sim.runs[r].trigger == c.SCHEDULED) == 2
