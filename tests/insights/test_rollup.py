"""The rollups follow the sync: applying the same batch twice writes nothing, a change
reaches every group it feeds, and rebuilding from scratch gives the same rows."""

import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dashboard.insights import capacity
from dashboard.models import (
    Agent,
    AgentHour,
    AgentType,
    BuildDay,
    Connection,
    DeployDay,
    DeployEvent,
    FlakeEvent,
    InsightsSettings,
    JobDay,
    JobSpan,
    QueueDay,
    RedDay,
    RedSpell,
)
from dashboard.sync import sync_connection

from .conftest import at

ROLLUPS = (BuildDay, JobDay, JobSpan, QueueDay, FlakeEvent, RedSpell, RedDay, DeployEvent, DeployDay)
WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


def snapshot(with_ids: bool = False) -> dict:
    """Every rollup row's content (ids only when asked: a rebuild makes new rows)."""
    found = {}
    for model in ROLLUPS:
        fields = [f.attname for f in model._meta.concrete_fields if with_ids or f.attname != "id"]
        found[model.__name__] = sorted((tuple(sorted(row.items())) for row in model.objects.values(*fields)), key=repr)
    return found


@pytest.fixture
def deploying(history):
    InsightsSettings.objects.create(connection=history.connection, deploy_pipelines="deploy-*", deploy_jobs="lint")
    return history


def test_applying_the_same_batch_twice_writes_nothing(deploying):
    h = deploying
    h.apply()
    before = snapshot(with_ids=True)
    assert before["BuildDay"] and before["FlakeEvent"] and before["RedSpell"] and before["DeployEvent"]
    with CaptureQueriesContext(db) as queries:
        h.apply()
    assert snapshot(with_ids=True) == before
    # Only the connection's change marker moves (live pages redraw after any batch).
    writes = [q["sql"] for q in queries.captured_queries if WRITES.match(q["sql"])]
    assert [sql for sql in writes if not sql.startswith('UPDATE "dashboard_connection" SET "revision"')] == []


def test_a_batch_reads_its_builds_jobs_once_for_the_flakes_and_every_day_they_feed(deploying):
    with CaptureQueriesContext(db) as queries:
        deploying.apply()
    # What flakes and day rows read of a job (deployments read their own few fields).
    job_reads = [
        q["sql"] for q in queries.captured_queries if re.match(r'SELECT "dashboard_job"\."id" .*"created_at"', q["sql"])
    ]
    assert FlakeEvent.objects.exists() and BuildDay.objects.values("day").distinct().count() > 1
    assert len(job_reads) == 1, job_reads


def test_builds_applied_one_at_a_time_in_any_order_give_the_rebuilt_figures(deploying):
    h = deploying
    for name in reversed(list(h.builds)):
        h.apply(name)
    incremental = snapshot()
    call_command("rebuild_insights", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert snapshot() == incremental
    call_command("rebuild_insights", "--connection", "acme", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert snapshot() == incremental


def test_a_rebuild_corrects_rollups_that_went_stale(deploying):
    h = deploying
    h.apply()
    right = snapshot()
    BuildDay.objects.update(passed=99)
    FlakeEvent.objects.all().delete()
    call_command("rebuild_insights", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert snapshot() == right


def test_rebuild_names_an_unknown_connection(db):
    with pytest.raises(CommandError, match="No connection with the slug nope"):
        call_command("rebuild_insights", "--connection", "nope")


def test_a_build_that_finishes_moves_its_day_and_main_goes_green(history):
    h = history
    d = h.d2
    late = h.build(
        "b10",
        state="running",
        created=at(d, "18:00"),
        started=at(d, "18:00"),
        sha="c11",
        jobs=[("test", "running", at(d, "18:00"), at(d, "18:00"), None)],
    )
    h.build("b9", state="failed", created=at(d, "17:00"), started=at(d, "17:00"), finished=at(d, "17:10"), sha="c10")
    h.apply()
    assert RedSpell.objects.filter(ended_at__isnull=True).count() == 1
    row = BuildDay.objects.get(pipeline_key=h.ci.pk, branch="main", day=d)
    assert (row.builds, row.passed, row.failed) == (5, 1, 3)
    late.state, late.finished_at = "passed", at(d, "18:30")
    late.save()
    late.jobs.update(state="passed", finished_at=at(d, "18:20"))
    h.apply("b10")
    row.refresh_from_db()
    assert (row.builds, row.passed, row.failed) == (5, 2, 3)
    spell = RedSpell.objects.get(first_failure=h.builds["b9"])
    assert (spell.ended_at, spell.fixed_by_id) == (at(d, "18:30"), late.pk)


def test_a_sync_fills_the_rollups_and_a_quiet_resync_writes_none(semaphore, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sync_connection(semaphore.pk)
    assert BuildDay.objects.filter(connection=semaphore).exists()
    assert JobDay.objects.filter(connection=semaphore).exists()
    synced = snapshot()
    with CaptureQueriesContext(db) as queries, django_capture_on_commit_callbacks(execute=True):
        sync_connection(semaphore.pk)
    rollup_tables = tuple(m._meta.db_table for m in ROLLUPS)
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if WRITES.match(q["sql"]) and any(t in q["sql"] for t in rollup_tables)
    ]
    assert writes == []
    assert snapshot() == synced
    call_command("rebuild_insights", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert snapshot() == synced


def test_each_sync_samples_agents_online_and_busy(db):
    connection = Connection.objects.create(kind="semaphore", name="Fleet", slug="fleet", base_url="http://127.0.0.1:9")
    small = AgentType.objects.create(connection=connection, external_id="s1-small", name="s1-small")
    AgentType.objects.create(connection=connection, external_id="s1-idle", name="s1-idle")
    for name, state in (("a1", "busy"), ("a2", "busy")):
        Agent.objects.create(connection=connection, external_id=name, name=name, agent_type=small, state=state)
    moment = at(timezone.now().date(), "10:15")
    capacity.sample(connection.pk, at=moment)
    Agent.objects.filter(name="a2").update(state="idle", raw_state="waiting_for_job")
    Agent.objects.create(
        connection=connection, external_id="a3", name="a3", agent_type=small, state="idle", raw_state="waiting_for_job"
    )
    capacity.sample(connection.pk, at=moment.replace(minute=45))
    hour = AgentHour.objects.get(connection=connection, agent_type="s1-small")
    # Samples: 2 online / 2 busy (saturated), then 3 online / 1 busy.
    assert (hour.samples, hour.online_sum, hour.busy_sum, hour.online_max, hour.busy_max, hour.saturated) == (
        2,
        5,
        3,
        3,
        2,
        1,
    )
    idle = AgentHour.objects.get(connection=connection, agent_type="s1-idle")
    assert (idle.samples, idle.online_max, idle.saturated) == (2, 0, 0)


def test_rollup_rows_are_stored_as_django_would_store_them_whatever_types_they_hold(db):
    from datetime import date

    from dashboard.insights.store import insert

    connection = Connection.objects.create(kind="prunner", name="t", slug="t", base_url="http://127.0.0.1:9")
    held = RedDay(connection=connection, branch="main", day=date(2026, 1, 2), red_ms=1500, fix_hist={"3": 2})
    # Values of another type than their column's, as arithmetic may leave them.
    odd = RedDay(connection=connection, pipeline_key=True, branch="dev", day=date(2026, 1, 2), red_ms=2500.0)
    odd.spells_ended, odd.longest_ms = "3", 7.0

    insert(RedDay, [held, odd], with_pk=False)

    stored = {r.branch: r for r in RedDay.objects.all()}
    assert (stored["main"].red_ms, stored["main"].fix_hist, stored["main"].spells_ended) == (1500, {"3": 2}, 0)
    assert (stored["dev"].pipeline_key, stored["dev"].red_ms) == (1, 2500)
    assert (stored["dev"].spells_ended, stored["dev"].longest_ms, stored["dev"].fix_hist) == (3, 7, {})


def long_history(h, days: int) -> None:
    """A build a day (two on every third day, one of them failing) on two pipelines,
    over ``days`` days before the fixture's own."""
    for n in range(days):
        day = h.d1 - timedelta(days=n + 1)
        for pipeline in (h.ci, h.deploy):
            for k in range(1 + (n % 3 == 0)):
                state = "failed" if k else "passed"
                h.build(
                    f"long-{pipeline.pk}-{n}-{k}",
                    pipeline=pipeline,
                    state=state,
                    created=at(day, "08:00"),
                    started=at(day, "08:01"),
                    finished=at(day, "08:09"),
                    sha=f"s{n}",
                    jobs=[
                        ("test", state, at(day, "08:01"), at(day, "08:01"), 120 + n),
                        ("lint", "passed", at(day, "08:01"), at(day, "08:02"), 30),
                    ],
                )


def span_statements(h) -> int:
    with CaptureQueriesContext(db) as queries:
        h.apply()
    return sum('"dashboard_jobspan"' in q["sql"] for q in queries.captured_queries)


def test_a_long_history_applied_at_once_or_in_parts_gives_the_rebuilt_spans(deploying):
    h = deploying
    long_history(h, 150)
    names = list(h.builds)
    h.apply(*names[: len(names) // 2])  # a first sync's batches, newest builds last
    h.apply(*names[len(names) // 2 :])
    in_parts = snapshot()
    assert {row.span for row in JobSpan.objects.all()} == {2, 4, 8, 16, 32, 64}
    call_command("rebuild_insights", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert snapshot() == in_parts


def test_the_spans_of_a_long_history_cost_the_same_statements_as_a_short_one(db):
    from .conftest import make_history

    short = make_history()
    long_history(short, 20)
    few = span_statements(short)
    Connection.objects.all().delete()
    long = make_history()
    long_history(long, 200)
    assert span_statements(long) == few
