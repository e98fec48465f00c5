"""After real syncs against the simulators, the rollups agree with figures counted
straight from the stored builds and jobs, and a rebuild changes nothing."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from dashboard.insights import buckets
from dashboard.insights.days import day_of
from dashboard.models import ALL_BRANCHES, ALL_PIPELINES, Build, BuildDay, Job, JobDay
from dashboard.sync import sync_connection
from providers.base.sim import Scale
from providers.harmont.sim import HarmontSimulator
from tests.conftest import TOKEN, make_connection

from .test_rollup import snapshot

WIDTH = 2 ** (1 / 8) - 1  # a bucket's relative width


def counted(connection) -> tuple[dict, dict]:
    """Per (pipeline, day): build outcomes; per (pipeline, day, job): runs, failures,
    durations; all from the builds and jobs themselves."""
    builds, jobs = {}, {}
    for b in Build.objects.filter(connection=connection):
        key = (b.pipeline_id or 0, day_of(b.created_at))
        row = builds.setdefault(key, {"builds": 0, "passed": 0, "failed": 0, "canceled": 0})
        row["builds"] += 1
        if b.state in row:
            row[b.state] += 1
    for j in Job.objects.filter(connection=connection, state__in=("passed", "failed")).select_related("build"):
        key = (j.build.pipeline_id or 0, day_of(j.build.created_at), j.name)
        row = jobs.setdefault(key, {"runs": 0, "failures": 0, "durations": []})
        row["runs"] += 1
        row["failures"] += j.state == "failed"
        if j.duration is not None:
            row["durations"].append(j.duration.total_seconds())
    return builds, jobs


def assert_rollups_match(connection) -> None:
    builds, jobs = counted(connection)
    assert builds, "the sync stored no builds"
    stored = {
        (r.pipeline_key, r.day): {"builds": r.builds, "passed": r.passed, "failed": r.failed, "canceled": r.canceled}
        for r in BuildDay.objects.filter(connection=connection, branch=ALL_BRANCHES, pipeline_key__gte=0)
    }
    assert stored == builds
    whole = {
        (r.branch, r.day): r.builds
        for r in BuildDay.objects.filter(connection=connection, pipeline_key=ALL_PIPELINES, project_key=ALL_PIPELINES)
    }
    per_branch_day: dict = {}
    for b in Build.objects.filter(connection=connection):
        for branch in (b.branch, ALL_BRANCHES):
            key = (branch, day_of(b.created_at))
            per_branch_day[key] = per_branch_day.get(key, 0) + 1
    assert whole == per_branch_day
    stored_jobs = {
        (r.pipeline_key, r.day, r.job_name): r
        for r in JobDay.objects.filter(connection=connection, branch=ALL_BRANCHES)
    }
    assert set(stored_jobs) == set(jobs)
    for key, row in jobs.items():
        mine = stored_jobs[key]
        assert (mine.runs, mine.failures) == (row["runs"], row["failures"]), key
        for q in (0.5, 0.95):
            exact = buckets.exact_percentile(row["durations"], q)
            got = buckets.percentile(mine.duration_hist, q)
            assert (got is None) == (exact is None)
            if exact is not None:
                assert abs(got - exact) <= exact * WIDTH + 0.001, (key, q)


def sync_a_while(connection, clock, django_capture_on_commit_callbacks, rounds: int = 3) -> None:
    for _ in range(rounds):
        with django_capture_on_commit_callbacks(execute=True):
            sync_connection(connection.pk)
        clock.advance(45)


def test_semaphore_rollups_agree_with_the_stored_history(semaphore, clock, django_capture_on_commit_callbacks):
    sync_a_while(semaphore, clock, django_capture_on_commit_callbacks)
    assert_rollups_match(semaphore)
    before = snapshot()
    call_command("rebuild_insights", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert snapshot() == before


@pytest.fixture
def harmont_sim(clock):
    sim = HarmontSimulator(TOKEN, seed=3, scale=Scale(projects=2, builds=6, jobs=5, arrival_every=30), clock=clock)
    sim.serve()
    yield sim
    sim.stop()


def test_harmont_rollups_agree_with_the_stored_history(db, harmont_sim, clock, django_capture_on_commit_callbacks):
    connection = make_connection(harmont_sim, "hm")
    sync_a_while(connection, clock, django_capture_on_commit_callbacks)
    assert_rollups_match(connection)
    before = snapshot()
    call_command("rebuild_insights", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert snapshot() == before
