"""Fixtures and helpers shared by the jobs platform tests (this module holds no tests);
the simulated workspace they use is described in docs/providers/jobsplatform.md
("Simulator").

The fixtures reach the tests through this folder's conftest.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.models import Pipeline
from dashboard.sync import apply_batch
from providers.base.sim import Clock, Scale
from providers.jobsplatform.adapter import JobsPlatformAdapter
from providers.jobsplatform.client import JobsPlatformClient
from providers.jobsplatform.sim import JobsPlatformSimulator
from providers.jobsplatform.sim.world import JobDef
from tests.conftest import TOKEN, make_connection

# Two projects, each with: heartbeat (every minute), nightly-report (03:00 UTC),
# db-migrate and backfill-events (on demand); four runs of history each.
SCALE = Scale(projects=2, builds=4, jobs=4, arrival_every=0)


def half_past_a_minute() -> Clock:
    """A manual clock at hh:mm:30 UTC, at 10:00:30 within half a day of now, so a test
    sees whole minutes and the nightly 03:00 fire is hours away."""
    now = datetime.now(UTC)
    start = now.replace(hour=10, minute=0, second=30, microsecond=0)
    if start - now > timedelta(hours=12):
        start -= timedelta(days=1)
    elif now - start > timedelta(hours=12):
        start += timedelta(days=1)
    return Clock(start=start.timestamp(), manual=True)


@pytest.fixture
def jp_clock() -> Clock:
    return half_past_a_minute()


@pytest.fixture
def jp_sim(jp_clock):
    sim = JobsPlatformSimulator(TOKEN, seed=11, scale=SCALE, clock=jp_clock).serve()
    yield sim
    sim.stop()


@pytest.fixture
def jp(db, jp_sim):
    return make_connection(jp_sim, "jp", options=jp_sim.connection_options())


@pytest.fixture
def api(jp_sim):
    with JobsPlatformClient(
        jp_sim.url, jp_sim.token, workspace_id=jp_sim.workspace_id, backoff=0.001, timeout=2
    ) as client:
        yield client


@pytest.fixture
def adapter(jp):
    a = JobsPlatformAdapter(jp)
    yield a
    a.close()


def first_project(sim: JobsPlatformSimulator) -> str:
    return next(p.id for p in sim.projects.values() if p.index == 0)


def job_named(sim: JobsPlatformSimulator, name: str, project_index: int = 0) -> JobDef:
    project = next(p.id for p in sim.projects.values() if p.index == project_index)
    return next(j for j in sim.jobs.values() if j.project_id == project and j.name == name)


def pipeline_of(job: JobDef) -> Pipeline:
    return Pipeline.objects.get(external_id=f"{job.project_id}:{job.id}")


def settle(sim: JobsPlatformSimulator, seconds: float = 20) -> None:
    """Let the runs in flight finish without crossing a minute boundary (the clock
    starts at hh:mm:30)."""
    sim.clock.advance(seconds)


def apply(connection, result) -> None:
    """Store an action's refresh as the action view would."""
    if result.refresh is not None:
        apply_batch(connection, result.refresh)
