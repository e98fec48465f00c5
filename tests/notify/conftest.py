import time

import pytest

from dashboard.models import Build, NotificationChannel, NotificationRule, Pipeline
from providers.base.sim import Clock, Scale
from providers.jobsplatform import contract as c
from providers.jobsplatform.sim import JobsPlatformSimulator
from tests.conftest import TOKEN, make_connection

from .receiver import Receiver

# One project: heartbeat (every minute), nightly-report, db-migrate and backfill-events
# (on demand); no runs from other people, so only the test's runs arrive.
SCALE = Scale(projects=1, builds=3, jobs=4, arrival_every=0)


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def jp_sim():
    # Starts at the real time (computed when the test runs), so what happens next is news.
    sim = JobsPlatformSimulator(TOKEN, seed=21, scale=SCALE, clock=Clock(start=time.time(), manual=True)).serve()
    yield sim
    sim.stop()


@pytest.fixture
def jp(db, jp_sim):
    return make_connection(jp_sim, "jp", options=jp_sim.connection_options(), sync_interval=1)


@pytest.fixture
def eager():
    """Queued sends run at once in this process (no worker in these tests)."""
    from dashboard.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def job_named(sim: JobsPlatformSimulator, name: str):
    return next(j for j in sim.jobs.values() if j.name == name)


def finish_run(sim: JobsPlatformSimulator, name: str, passes: bool):
    """A manual run of the job that passes or fails, and the clock moved past its end."""
    run = sim.add_run(job_named(sim, name), sim.now(), c.MANUAL)
    run.outcome = c.SUCCEEDED if passes else c.FAILED
    run.exit_code = 0 if passes else 1
    sim.clock.advance(run.end - sim.now() + 1)
    return run


def stored(sim: JobsPlatformSimulator, run) -> Build:
    return Build.objects.get(external_id=f"{run.job_id}:{run.id}")


def pipeline_of(sim: JobsPlatformSimulator, name: str) -> Pipeline:
    job = job_named(sim, name)
    return Pipeline.objects.get(external_id=f"{job.project_id}:{job.id}")


def make_rule(url: str, **fields) -> NotificationRule:
    channel = NotificationChannel.objects.create(name="team chat", url=url)
    return NotificationRule.objects.create(channel=channel, **fields)


@pytest.fixture
def synced_jp(jp):
    from dashboard.sync import sync_connection

    sync_connection(jp.pk)
    return jp


from tests.test_worker import worker_env  # noqa: E402, F401 (the real worker's environment, a fixture)
