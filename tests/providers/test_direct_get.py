"""A provider client's GET of JSON from its own address goes to the transport without
httpx's client (providers/base/client.py): the same request on the wire, the same
answers and errors, the same policy, retries and bounds as through httpx."""

from __future__ import annotations

import gzip
import json
import math
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from providers.base.client import BaseClient
from providers.base.errors import BadResponse, BudgetExhausted, NotFound, Unavailable
from providers.base.outbound import OutboundRefused


class TokenClient(BaseClient):
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Provider(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.server.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        path = self.path.split("?", 1)[0]
        status, headers, body = 200, {"Content-Type": "application/json"}, json.dumps({"path": self.path}).encode()
        if path == "/gzip":
            headers["Content-Encoding"] = "gzip"
            body = gzip.compress(json.dumps({"zipped": True}).encode())
        elif path == "/missing":
            status, body = 404, b'{"message": "no such build"}'
        elif path == "/moved":
            status, headers["Location"] = 302, "http://elsewhere.test/x"
        elif path == "/html":
            body = b"<html>a proxy's error page</html>"
        elif path == "/odd":
            body = b'{"ratio": NaN, "id": 123456789012345678901234567890}'
        elif path == "/cut":  # promises more than it sends, then hangs up
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'{"jobs": [')
            self.close_connection = True
            return
        elif path == "/flaky" and self.server.flaky:
            self.server.flaky -= 1
            status, body = 503, b'{"message": "try again"}'
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def provider():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    httpd.daemon_threads = True
    httpd.seen, httpd.flaky = [], 0
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def through_httpx(client: BaseClient) -> None:
    """Send the client's requests through httpx's client (as anyone watching it gets)."""
    client.http.event_hooks["request"] = [lambda request: None]


def test_a_json_read_sends_what_httpx_sends(provider):
    httpd, url = provider
    params = {"limit": 100, "cursor": "a b/c+d=é&x", "state": "passed"}
    with TokenClient(f"{url}/api/", "s3cret", share_as="direct-test") as client:
        assert client._plain_target("/v0/builds/7/jobs", {"params": params}) is not None  # the direct way
        direct = client.get_json("/v0/builds/7/jobs", params=params)
        through_httpx(client)
        usual = client.get_json("/v0/builds/7/jobs", params=params)
    assert direct == usual
    (direct_path, direct_headers), (usual_path, usual_headers) = httpd.seen
    assert direct_path == usual_path == "/api/v0/builds/7/jobs?limit=100&cursor=a+b%2Fc%2Bd%3D%C3%A9%26x&state=passed"
    assert direct_headers == usual_headers
    assert direct_headers["authorization"] == "Bearer s3cret" and direct_headers["host"] == url.split("//")[1]


def test_what_httpx_would_send_differently_goes_through_httpx(provider):
    _, url = provider
    with BaseClient(url, "t", share_as="direct-test") as client:
        assert client._plain_target("/a b", {}) is None  # httpx encodes the space
        assert client._plain_target("/a/../b", {}) is None  # and resolves the dots
        assert client._plain_target("/a?x=1", {}) is None
        assert client._plain_target("/a", {"params": {"on": True}}) is None  # httpx says "true"
        assert client._plain_target("/a", {"headers": {"Accept": "text/plain"}}) is None
        assert client._plain_target(f"{url}/a", {}) is None
        # ...and still gets its answer.
        assert client.get_json("/a b") == {"path": "/a%20b"}


def test_a_compressed_answer_is_decoded(provider):
    _, url = provider
    with BaseClient(url, "t", share_as="direct-test") as client:
        assert client.get_json("/gzip") == {"zipped": True}


def test_error_answers_read_as_they_did(provider):
    _, url = provider
    for direct in (True, False):
        with BaseClient(url, "t", share_as=f"direct-test-{direct}", max_attempts=1) as client:
            if not direct:
                through_httpx(client)
            with pytest.raises(NotFound, match="no such build") as missing:
                client.get_json("/missing")
            assert missing.value.status == 404
            with pytest.raises(
                BadResponse, match=re.escape("redirected to 'http://elsewhere.test/x'; it was not followed")
            ):
                client.get_json("/moved")
            with pytest.raises(BadResponse, match=re.escape('not JSON: "<html>a proxy\'s error page</html>"')):
                client.get_json("/html")
            odd = client.get_json("/odd")  # what the standard library reads, orjson does not
            assert math.isnan(odd["ratio"]) and odd["id"] == 123456789012345678901234567890


def test_a_failing_answer_is_retried_and_counted(provider):
    httpd, url = provider
    httpd.flaky = 2
    with BaseClient(url, "t", share_as="direct-test", backoff=0.001) as client:
        assert client.get_json("/flaky") == {"path": "/flaky"}
        assert client.requests == 3
    httpd.flaky = 5
    with (
        BaseClient(url, "t", share_as="direct-test", backoff=0.001, max_attempts=2) as client,
        pytest.raises(Unavailable, match=r"failed \(503\): try again"),
    ):
        client.get_json("/flaky")
    with BaseClient(url, "t", share_as="direct-test", budget=1) as client:
        client.get_json("/one")
        with pytest.raises(BudgetExhausted):
            client.get_json("/two")
    assert [path for path, _ in httpd.seen][-1] == "/one"


def test_a_provider_that_is_gone_is_unreachable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe closes
    with (
        BaseClient(f"http://127.0.0.1:{port}", "t", share_as="direct-test", max_attempts=1) as client,
        pytest.raises(Unavailable, match="Cannot connect to"),
    ):
        client.get_json("/jobs")


def test_the_policy_applies_to_every_direct_read(provider, settings, monkeypatch):
    httpd, url = provider
    port = url.rsplit(":", 1)[1]
    answers = {"ci.test": ["127.0.0.1"]}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answers[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with BaseClient(f"http://ci.test:{port}", "t", share_as="direct-policy", max_attempts=1) as client:
        assert client.get_json("/first") == {"path": "/first"}
    # The name now also answers with the metadata address: refused before anything is sent.
    answers["ci.test"] = ["127.0.0.1", "169.254.169.254"]
    with (
        BaseClient(f"http://ci.test:{port}", "t", share_as="direct-policy", max_attempts=1) as client,
        pytest.raises(OutboundRefused, match=re.escape("169.254.169.254")),
    ):
        client.get_json("/second")
    # An address allowed a moment ago (its connection still open) is refused as soon as
    # the policy refuses it.
    with BaseClient(url, "t", share_as="direct-policy", max_attempts=1) as client:
        assert client.get_json("/third") == {"path": "/third"}
        settings.OUTBOUND_ALLOW_LOOPBACK = False
        with pytest.raises(OutboundRefused, match="OUTBOUND_ALLOW_LOOPBACK"):
            client.get_json("/fourth")
    assert [path for path, _ in httpd.seen] == ["/first", "/third"]


def test_a_body_cut_short_is_a_failed_read_and_the_next_read_works(provider):
    _, url = provider
    with BaseClient(url, "t", share_as="direct-test", max_attempts=1) as client:
        with pytest.raises(Unavailable, match="the body ended early"):
            client.get_json("/cut")
        assert client.get_json("/after") == {"path": "/after"}
