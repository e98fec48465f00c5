"""The simulators keep connections open between requests, as the providers' servers do,
so a client's connection handling is tested the way it is used."""

from __future__ import annotations

import logging
import time

import httpx
import pytest

from providers.base.sim import Scale
from providers.base.sim.serving import PersistentHandler
from providers.harmont.sim import HarmontSimulator


@pytest.fixture
def sim():
    sim = HarmontSimulator("tok", seed=2, scale=Scale(builds=2, jobs=2, arrival_every=0)).serve()
    yield sim
    sim.stop()


def test_requests_share_one_connection_even_after_a_body_the_server_did_not_read(sim):
    with httpx.Client(base_url=sim.url, headers={"Authorization": "Bearer tok"}) as client:
        first = client.get("/api/v0/user")
        unread = client.post("/api/v0/user", content=b"x" * 70_000)  # answered without reading it
        again = [client.get("/api/v0/user") for _ in range(5)]

    assert first.status_code == 200 and unread.status_code == 405
    assert [r.json() for r in again] == [first.json()] * 5
    assert sim.connections[0] == 1


def test_a_stopped_simulator_answers_nothing_on_a_kept_connection(sim):
    with httpx.Client(base_url=sim.url, headers={"Authorization": "Bearer tok"}) as client:
        assert client.get("/api/v0/user").status_code == 200
        sim.stop()
        with pytest.raises(httpx.TransportError):
            client.get("/api/v0/user")


def test_a_client_that_leaves_is_let_go(sim):
    with httpx.Client(base_url=sim.url, headers={"Authorization": "Bearer tok"}) as client:
        client.get("/api/v0/user")
        assert sim.connections == (1, 1)
    deadline = time.monotonic() + 10
    while sim.connections[1] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sim.connections == (1, 0)


def test_an_idle_connection_is_closed_quietly_and_the_client_carries_on(sim, monkeypatch, caplog):
    monkeypatch.setattr(PersistentHandler, "timeout", 0.3)  # 60 s, as the providers' servers
    with httpx.Client(base_url=sim.url, headers={"Authorization": "Bearer tok"}) as client:
        first = client.get("/api/v0/user")
        deadline = time.monotonic() + 10
        while sim.connections[1] and time.monotonic() < deadline:
            time.sleep(0.02)
        closed = sim.connections
        again = client.get("/api/v0/user")  # on a new connection: the old one was closed

    assert closed == (1, 0)
    assert again.status_code == 200 and again.json() == first.json()
    assert sim.connections[0] == 2
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # an idle close is no error
