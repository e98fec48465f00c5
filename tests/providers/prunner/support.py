"""Fixtures and helpers shared by the prunner tests (this module holds no tests)."""

from __future__ import annotations

import httpx
import pytest

from providers.base.sim import Scale
from providers.prunner import tokens
from providers.prunner.client import PrunnerClient
from providers.prunner.sim import PrunnerSimulator
from providers.prunner.sim.plans import PipelineDef, TaskDef
from providers.prunner.sim.world import World
from tests.conftest import make_connection

SECRET = "prunner-test-secret-0123456789abcdef"


@pytest.fixture
def prunner_sim(clock):
    sim = PrunnerSimulator(SECRET, seed=11, scale=Scale(projects=2, builds=4, jobs=3, arrival_every=30), clock=clock)
    sim.serve()
    yield sim
    sim.stop()


@pytest.fixture
def prunner(db, prunner_sim):
    return make_connection(prunner_sim, slug="prunner-acme")


@pytest.fixture
def api(prunner_sim):
    with PrunnerClient(prunner_sim.url, SECRET, backoff=0.001, timeout=2.0) as client:
        yield client


def call(sim, method: str, path: str, *, token: str | None = None, **kwargs) -> httpx.Response:
    """One raw request, signed with a fresh token unless ``token`` is given ("" for none)."""
    headers = kwargs.pop("headers", {})
    if token is None:
        token = tokens.mint(SECRET, "tester")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return _HTTP.request(method, sim.url + path, headers=headers, **kwargs)


_HTTP = httpx.Client(timeout=5.0)  # one client: a new one per call costs ~20 ms


def task(name: str, *deps: str, duration: float = 10, fail: bool = False) -> TaskDef:
    """A task that always takes ``duration`` seconds and always passes or fails."""
    return TaskDef(name, (f"./{name}.sh",), deps, (duration, duration), 1.0 if fail else 0.0, warn_rate=0.0)


def custom_world(sim: PrunnerSimulator, *pipelines: PipelineDef) -> World:
    """Give ``sim`` a world of just these pipelines, with no history and no arrivals."""
    sim.world = World(
        {p.name: p for p in sorted(pipelines, key=lambda p: p.name)},
        rng=sim.rng,
        uuid=sim.uuid,
        start=sim.now(),
        history=0,
        arrival_every=0,
        cancel_rate=0.0,
    )
    return sim.world


__all__ = ["SECRET", "api", "call", "custom_world", "prunner", "prunner_sim", "task"]
