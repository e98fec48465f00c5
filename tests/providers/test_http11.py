"""The provider clients' HTTP/1.1 transport (providers/base/http11.py): connections kept
and given up as a provider's server expects, a request never sent twice unless it may
be, and TLS that verifies the provider's name."""

from __future__ import annotations

import contextlib
import datetime
import http.client
import io
import ipaddress
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from providers.base.client import BaseClient
from providers.base.errors import Unavailable
from providers.base.http11 import Head
from providers.base.outbound import PolicyTransport

BIG = b"x" * 2_000_000


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # connections kept, as the providers' servers keep them

    def log_message(self, *args) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1
            self.number = self.server.connections
        self.answered = 0

    def finish(self) -> None:
        super().finish()
        with self.server.lock:
            self.server.closed += 1

    def handle_one_request(self) -> None:
        # The first connection's second request: read, then the connection is closed
        # without an answer (a server closing an idle connection as the request came).
        if self.server.drop_second and self.number == 1 and self.answered == 1:
            self.raw_requestline = self.rfile.readline(65537)
            if self.raw_requestline and self.parse_request():
                self.server.seen.append((self.command, self.path))
            self.close_connection = True
            return
        super().handle_one_request()

    def answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.seen.append((self.command, self.path))
        body = BIG if self.path == "/big" else f"{self.command} {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the client may leave before reading it all
            self.wfile.write(body)
        self.answered += 1

    do_GET = do_POST = answer


@pytest.fixture
def server():
    made = []

    def make(*, drop_second: bool = False, tls: ssl.SSLContext | None = None) -> tuple[ThreadingHTTPServer, str]:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        httpd.lock, httpd.connections, httpd.closed = threading.Lock(), 0, 0
        httpd.seen, httpd.drop_second = [], drop_second
        if tls is not None:
            httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        made.append(httpd)
        scheme = "https" if tls else "http"
        return (
            httpd,
            f"{scheme}://localhost:{httpd.server_address[1]}" if tls else f"http://127.0.0.1:{httpd.server_address[1]}",
        )

    yield make
    for httpd in made:
        httpd.shutdown()
        httpd.server_close()


def test_requests_share_a_kept_connection(server):
    httpd, url = server()
    with BaseClient(url, "t") as client:
        assert [client.get(f"/{i}").text for i in range(5)] == [f"GET /{i}" for i in range(5)]
        assert client.request("POST", "/made", json={"a": 1}).text == "POST /made"
    assert httpd.connections == 1


def test_a_kept_connection_the_server_closed_is_not_used_again(server, monkeypatch):
    monkeypatch.setattr(Handler, "timeout", 0.2)  # the server closes a connection idle that long
    httpd, url = server()
    with BaseClient(url, "t", max_attempts=1) as client:  # no retry: the transport alone
        assert client.get("/first").text == "GET /first"
        deadline = time.monotonic() + 10
        while not httpd.closed and time.monotonic() < deadline:
            time.sleep(0.02)
        assert httpd.closed == 1
        assert client.get("/second").text == "GET /second"
    assert httpd.connections == 2


def test_a_body_read_to_its_end_keeps_its_connection_and_one_left_unread_does_not(server):
    httpd, url = server()
    with BaseClient(url, "t", max_attempts=1) as client:
        whole = client.request("GET", "/big", stream=True)
        assert sum(len(chunk) for chunk in whole.iter_bytes()) == len(BIG)
        whole.close()
        assert client.get("/after-whole").text == "GET /after-whole"
        assert httpd.connections == 1

        part = client.request("GET", "/big", stream=True)
        next(part.iter_bytes())
        part.close()  # the rest of the body is still on its way: that connection is done
        assert client.get("/after-part").text == "GET /after-part"
        assert httpd.connections == 2


def test_a_get_is_sent_again_when_a_kept_connection_closes_unanswered_but_a_post_is_not(server):
    httpd, url = server(drop_second=True)
    with BaseClient(url, "t", max_attempts=1) as client:
        assert client.get("/first").text == "GET /first"
        assert client.get("/again").text == "GET /again"  # on a new connection
    assert httpd.seen == [("GET", "/first"), ("GET", "/again"), ("GET", "/again")]

    httpd, url = server(drop_second=True)
    with BaseClient(url, "t", max_attempts=1) as client:
        assert client.get("/first").text == "GET /first"
        with pytest.raises(Unavailable, match="closed the connection"):
            client.request("POST", "/builds", json={"branch": "main"})
    assert httpd.seen == [("GET", "/first"), ("POST", "/builds")]  # the build asked for once


def certificate(name: str) -> tuple[bytes, bytes]:
    """A self-signed certificate (PEM) for ``name`` and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.2"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.mark.parametrize(("served_name", "works"), [("localhost", True), ("provider.example", False)])
def test_tls_verifies_the_providers_name(server, tmp_path, served_name, works):
    cert, key = certificate(served_name)
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    httpd, url = server(tls=tls)
    trusting = ssl.create_default_context(cadata=cert.decode())  # trusts that certificate only

    with BaseClient(url, "t", max_attempts=1, transport=PolicyTransport(origin_of=url, ssl_context=trusting)) as client:
        if works:
            assert client.get("/over-tls").text == "GET /over-tls"
        else:
            with pytest.raises(Unavailable, match=r"Cannot connect.*(?i:certificate|hostname)"):
                client.get("/over-tls")
    assert httpd.seen == ([("GET", "/over-tls")] if works else [])


class PastedToken(BaseClient):
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def test_a_header_http_does_not_allow_is_refused_without_showing_it(server):
    httpd, url = server()
    with PastedToken(url, "s3cret\nX-Injected: yes", max_attempts=1) as client, pytest.raises(Unavailable) as refused:
        client.get("/with-token")
    assert "does not allow" in str(refused.value) and "s3cret" not in str(refused.value)
    assert httpd.seen == []  # nothing sent, no header smuggled in


def test_an_answer_that_is_not_http_is_a_short_clear_error():
    """A port that answers with something else (another protocol, a long junk line)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def junk() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"SSH-2.0-OpenSSH_9.6 " + b"x" * 5000 + b"\r\n")
        conn.close()

    threading.Thread(target=junk, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        with BaseClient(url, "t", max_attempts=1) as client, pytest.raises(Unavailable, match="not an HTTP") as refused:
            client.get("/api")
    finally:
        listener.close()
    assert "SSH-2.0" in str(refused.value) and len(str(refused.value)) < 300


HEADS = [
    b"Content-Type: application/json\r\nContent-Length: 12\r\n\r\n",
    b"content-length:3\r\nX-Request-Id:   abc  \r\nX-Empty:\r\n\r\n",
    b"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nset-cookie: c=3\r\n\r\n",
    b"Transfer-Encoding: chunked\r\nConnection: close\r\nVia: 1.1 caf\xe9\r\n\r\n",
    b'Link: <https://x/?page=2>; rel="next", <https://x/?page=9>; rel="last"\r\n\r\n',
    b"Date: Sun, 29 Nov 2026 02:00:00 GMT\n\n",  # bare line feeds
]


@pytest.mark.parametrize("head", HEADS)
def test_a_response_head_reads_as_the_standard_library_reads_it(head):
    ours, theirs = Head.read(io.BytesIO(head)), http.client.parse_headers(io.BytesIO(head))
    assert ours.items() == theirs.items()
    for name in {name for name, _ in theirs.items()} | {"content-length", "CONTENT-TYPE", "missing"}:
        assert ours.get(name) == theirs.get(name)
        assert ours.get_all(name) == theirs.get_all(name)


def test_a_folded_header_line_joins_the_one_before_and_a_line_without_a_colon_is_left_out():
    head = Head.read(io.BytesIO(b"X-Long: one\r\n\ttwo\r\nnot a header\r\nX-After: 1\r\n\r\n"))
    assert head.items() == [("X-Long", "one\ttwo"), ("X-After", "1")]


def test_an_answer_without_a_length_is_read_to_its_close_and_its_connection_is_not_kept():
    class Closing(Handler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"to": "the end"}')

    with ThreadingHTTPServer(("127.0.0.1", 0), Closing) as closing:
        closing.lock, closing.connections, closing.closed, closing.drop_second = threading.Lock(), 0, 0, False
        threading.Thread(target=closing.serve_forever, daemon=True).start()
        try:
            client = BaseClient(f"http://127.0.0.1:{closing.server_address[1]}", "")
            assert client.get_json("/a") == {"to": "the end"}
            assert client.get_json("/b") == {"to": "the end"}
            assert closing.connections == 2
        finally:
            closing.shutdown()


def test_a_head_keeps_the_standard_librarys_limits():
    with pytest.raises(http.client.LineTooLong):
        Head.read(io.BytesIO(b"X-Long: " + b"x" * 70_000 + b"\r\n\r\n"))
    with pytest.raises(http.client.HTTPException, match="more than 100 headers"):
        Head.read(io.BytesIO(b"X: 1\r\n" * 101 + b"\r\n"))
    assert len(Head.read(io.BytesIO(b"X: 1\r\n" * 100 + b"\r\n")).items()) == 100
    with pytest.raises(http.client.HTTPException, match="more than 3 headers"):
        Head.read(io.BytesIO(b"X: 1\r\n" * 4 + b"\r\n"), _max_headers=3)
