"""Fixtures and helpers shared by the Semaphore tests (this module holds no tests): a
client and an adapter on the simulator, a synced connection, URLs, and finders of
something running (docs/providers/semaphore.md)."""

import pytest
from django.urls import reverse

from dashboard.models import Build, Job
from dashboard.sync import sync_connection
from providers.semaphore.adapter import SemaphoreAdapter
from providers.semaphore.client import SemaphoreClient


@pytest.fixture
def api(semaphore_sim):
    with SemaphoreClient(semaphore_sim.url, semaphore_sim.token, backoff=0.001) as client:
        yield client


@pytest.fixture
def adapter(semaphore):
    adapter = SemaphoreAdapter(semaphore)
    yield adapter
    adapter.close()


@pytest.fixture
def synced(semaphore, semaphore_sim, clock):
    sync_connection(semaphore.pk)
    return semaphore


@pytest.fixture
def project_id(semaphore_sim) -> str:
    return next(iter(semaphore_sim.projects))


def action(name: str):
    found = SemaphoreAdapter.action(name)
    assert found is not None, name
    return found


def action_url(connection, name, target, external_id="-"):
    return reverse("action", args=[connection.kind, connection.slug, name, target, external_id])


def panel_url(connection, name, target, external_id="-"):
    return reverse("panel", args=[connection.kind, connection.slug, name, target, external_id])


def api_panel_url(connection, name, target, external_id="-"):
    return reverse("api-panel", args=[connection.kind, connection.slug, name, target, external_id])


def running_build(sim, clock, connection) -> Build:
    for _ in range(120):
        sim.advance()
        busy = [p for p in sim.pipelines.values() if p.state(sim.now()) == "running" and p.end - sim.now() > 10]
        if busy:
            sync_connection(connection.pk)
            return Build.objects.get(external_id=busy[0].id)
        clock.advance(1)
    raise AssertionError("nothing ran")


def running_job(sim, clock, connection, *, self_hosted: bool | None = None) -> Job:
    """A job of a pipeline that runs for a while yet (on a self-hosted agent or not)."""
    for _ in range(200):
        sim.advance()
        busy = [
            job
            for ppl, job in sim.all_jobs()
            if ppl.id
            and job.status(sim.now())[0] == "RUNNING"
            and job.end - sim.now() > 8
            and (self_hosted is None or job.self_hosted == self_hosted)
        ]
        if busy:
            sync_connection(connection.pk)
            return Job.objects.get(external_id=busy[0].id)
        clock.advance(1)
    raise AssertionError("no job ran")
