"""The simulators keep connections open between requests, as the providers' servers do,
so a client's connection handling is tested the way it is used."""

from __future__ import annotations

import logging
import socket
import threading
import time

import httpx
import pytest

from providers.base.sim import Scale
from providers.base.sim.serving import PersistentHandler, close_connections, serve
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


def test_a_client_that_leaves_in_the_middle_of_a_stream_is_let_go_quietly(capfd):
    def endless(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        if environ["PATH_INFO"] == "/ok":
            return [b"fine"]
        return (b"data: " + b"x" * 60_000 + b"\n\n" for _ in range(10_000))

    server = serve(endless, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as leaving:
            client_port = leaving.getsockname()[1]
            leaving.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            assert leaving.recv(100).startswith(b"HTTP/1.1 200")
            # Closed with a reset, as a client that gives up does.
            leaving.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        deadline = time.monotonic() + 10  # the server notices at its next write
        while server.open_connections and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not server.open_connections
        assert httpx.get(f"http://127.0.0.1:{server.port}/ok").text == "fine"
    finally:
        server.shutdown()
        close_connections(server)
        server.server_close()
    # socketserver prints a handler's uncaught error, naming the client it served.
    assert f"request from ('127.0.0.1', {client_port})" not in capfd.readouterr().err


def test_an_answer_of_unknown_length_ends_and_its_connection_carries_the_next_request():
    # No Content-Length: sent chunked, its last chunk written after the application's
    # last part, which must still go out on a connection that stays open.
    def parts(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (part for part in (b"one ", b"two"))

    server = serve(parts, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=5) as client:
            answers = [client.get("/a"), client.get("/b")]
        assert [a.text for a in answers] == ["one two"] * 2
        assert answers[0].headers["transfer-encoding"] == "chunked"
        assert server.connections_opened == 1
    finally:
        server.shutdown()
        close_connections(server)
        server.server_close()
