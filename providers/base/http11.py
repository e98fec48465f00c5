"""HTTP/1.1 for provider clients: httpx's transport interface on the standard library's
``http.client``, with connections kept between requests.

httpx's own transport (httpcore and h11, pure Python both) cost about a quarter of a
request's CPU more than this one, and a first sync sends a request a build
(docs/performance.md). This does what a provider client needs of a transport and no
more: connections kept per origin (a bounded number, for a bounded time), a kept
connection the server has closed meanwhile never used again, the timeouts httpx hands
over with each request, bodies streamed (log streams) and the connection given back
once a body is read to its end, and httpx's exceptions, so callers see what they saw
before. No proxies and no HTTP/2: the outbound policy needs the address connected to to
be the one it checked. How a socket is opened is the caller's (``open_socket``: the
policy's); TLS verifies the host name on top of it."""

from __future__ import annotations

import contextlib
import http.client
import itertools
import select
import socket
import ssl
import threading
import time
import types
from collections.abc import Callable, Iterator

import httpx

# httpx's defaults: idle connections kept per transport, and for how long.
MAX_IDLE = 20
KEEPALIVE_EXPIRY = 5.0
CHUNK = 64 * 1024
# The standard library's limits on an answer's head: a line's length, and its lines.
MAX_LINE = 65536
MAX_HEAD_LINES = 100
# Requests that may be sent again when a kept connection turns out closed before the
# server answered (it closed the idle connection as the request went out).
REPEATABLE = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

OpenSocket = Callable[[str, int, float | None], socket.socket]
Origin = tuple[str, str, int]
# Header lines as sent: (name, value), bytes or str.
Headers = list[tuple[bytes | str, bytes | str]]


def _said(exc: Exception) -> str:
    """An error of http.client in a few words: some quote what the server sent (a status
    line of up to 64 KB), which a message for people must not carry whole."""
    text = repr(exc)
    return text if len(text) <= 160 else f"{text[:157]}..."


@contextlib.contextmanager
def _body_errors() -> Iterator[None]:
    """Reading a body failed: said as httpx says it."""
    try:
        yield
    except TimeoutError as exc:
        raise httpx.ReadTimeout(str(exc) or "timed out") from exc
    except http.client.HTTPException as exc:
        raise httpx.RemoteProtocolError(f"the body ended early: {_said(exc)}") from exc
    except OSError as exc:
        raise httpx.ReadError(str(exc)) from exc


class Head(http.client.HTTPMessage):
    """A response's header lines, read without the email parser.

    ``http.client`` reads a head with ``email.parser``, which cost about a third of a
    provider request's CPU (docs/performance.md), and looks a name up by scanning every
    line. Here each line is split as the parser's compat32 policy splits it (the name as
    sent, the value without the spaces after the colon, a folded line joined to the line
    before it; a line without a colon is left out), and names are looked up by their
    lower case. The standard library's limits apply: a line of at most 64 KB, at most
    100 lines (or the limit the caller passes, as newer Pythons do)."""

    @classmethod
    def read(cls, fp, _class: object = None, *, _max_headers: int | None = None) -> Head:
        head = cls()
        lines = head._headers
        limit = _max_headers or MAX_HEAD_LINES
        for count in itertools.count(1):
            line = fp.readline(MAX_LINE + 1)
            if len(line) > MAX_LINE:
                raise http.client.LineTooLong("header line")
            if line in (b"\r\n", b"\n", b""):
                break
            if count > limit:
                raise http.client.HTTPException(f"got more than {limit} headers")
            text = line.decode("iso-8859-1").rstrip("\r\n")
            if text[:1] in (" ", "\t"):
                if lines:  # a folded line continues the one before it
                    lines[-1] = (lines[-1][0], lines[-1][1] + text)
                continue
            name, colon, value = text.partition(":")
            if colon:  # a line that is no header is left out
                lines.append((name, value.lstrip(" \t")))
        head._first = {}
        for name, value in lines:
            head._first.setdefault(name.lower(), value)
        return head

    def get(self, name, failobj=None):
        return self._first.get(name.lower(), failobj)

    def items(self):
        return list(self._headers)


def reading_heads_directly(function: types.FunctionType) -> types.FunctionType:
    """A function of ``http.client`` or ``http.server`` (a response's ``begin``, a
    request handler's ``parse_request``) that reads a head with ``Head.read`` where it
    calls ``parse_headers``: the same code, run with that one name changed, so it stays
    whatever this Python's is. (``http.server`` names it ``http.client.parse_headers``.)"""
    client = types.SimpleNamespace(**vars(http.client))
    client.parse_headers = Head.read
    names = {**function.__globals__, "parse_headers": Head.read, "http": types.SimpleNamespace(client=client)}
    return types.FunctionType(function.__code__, names, function.__name__, function.__defaults__, function.__closure__)


class _Response(http.client.HTTPResponse):
    """``http.client``'s response, its head read by ``Head`` (status line, framing and
    keep-alive as the standard library's ``begin`` has them)."""

    begin = reading_heads_directly(http.client.HTTPResponse.begin)


class _Closed(Exception):
    """A kept connection was found closed by the server before it answered."""

    def __init__(self, cause: Exception):
        self.cause = cause


def _dropped(sock: socket.socket | None) -> bool:
    """Whether an idle connection has something to read: the server closed it (or sent
    what it should not have); either way it cannot carry another request."""
    if sock is None:
        return True
    try:
        if hasattr(select, "poll"):  # select() cannot watch a descriptor above 1023
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


class _Body(httpx.SyncByteStream):
    """A response's body as it arrives; its connection is kept once it was read whole."""

    def __init__(self, transport: Http11Transport, origin: Origin, conn: http.client.HTTPConnection, raw):
        self._transport, self._origin, self._conn, self._raw = transport, origin, conn, raw
        self._closed = False

    def _complete(self) -> bool:
        return self._raw.isclosed() or self._raw.length == 0

    def __iter__(self) -> Iterator[bytes]:
        while not self._complete():
            with _body_errors():
                chunk = self._raw.read1(CHUNK)
            if not chunk:
                return
            yield chunk

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._complete() and not self._raw.will_close:
            self._raw.close()  # the response, not the socket: http.client can send again
            self._transport._give_back(self._origin, self._conn)
        else:
            self._conn.close()


class Http11Transport(httpx.BaseTransport):
    def __init__(self, open_socket: OpenSocket, ssl_context: ssl.SSLContext):
        self._open_socket = open_socket
        self._ssl_context = ssl_context
        self._idle: dict[Origin, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._closed = False

    # Connections -------------------------------------------------------------------
    def _take(self, origin: Origin) -> http.client.HTTPConnection | None:
        """A kept connection to ``origin`` that can still carry a request, or None."""
        now = time.monotonic()
        while True:
            with self._lock:
                kept = self._idle.get(origin)
                if not kept:
                    return None
                conn = kept.pop()
            if now - conn.idle_since <= KEEPALIVE_EXPIRY and not _dropped(conn.sock):
                return conn
            conn.close()

    def _give_back(self, origin: Origin, conn: http.client.HTTPConnection) -> None:
        conn.idle_since = time.monotonic()
        with self._lock:
            if self._closed:
                surplus = [conn]
            else:
                kept = self._idle.setdefault(origin, [])
                kept.append(conn)
                surplus = kept[:-MAX_IDLE] if len(kept) > MAX_IDLE else []
                del kept[: len(surplus)]
        for old in surplus:
            old.close()

    def _connect(self, origin: Origin, timeout: float | None) -> http.client.HTTPConnection:
        scheme, host, port = origin
        if scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=self._ssl_context)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        conn.response_class = _Response
        # http.client opens its socket with this; the TLS handshake (https) follows on it.
        conn._create_connection = lambda address, timeout=None, source_address=None: self._open_socket(
            host, port, timeout
        )
        try:
            conn.connect()
        except TimeoutError as exc:
            conn.close()
            raise httpx.ConnectTimeout(str(exc) or "timed out") from exc
        except OSError as exc:  # ssl.SSLError included: nothing was sent
            conn.close()
            raise httpx.ConnectError(str(exc)) from exc
        except BaseException:
            conn.close()
            raise
        return conn

    def close_idle(self) -> None:
        """Close every kept connection now (one opened meanwhile is kept as usual)."""
        with self._lock:
            idle = [conn for kept in self._idle.values() for conn in kept]
            self._idle.clear()
        for conn in idle:
            conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self.close_idle()

    # Requests ----------------------------------------------------------------------
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        body = request.read()  # provider requests carry small bodies, never streamed ones
        conn, raw = self._send(
            origin, request.method, url_target(url), request.headers.raw, body, request.extensions.get("timeout", {})
        )
        return httpx.Response(
            raw.status,
            headers=raw.getheaders(),
            stream=_Body(self, origin, conn, raw),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (raw.reason or "").encode("latin-1", "replace")},
        )

    def fetch(
        self, origin: Origin, method: str, target: str, headers: Headers, timeouts: dict
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """A request without a body, its answer read whole: (status, headers, body as
        sent). What ``handle_request`` does without httpx's request and response objects,
        which cost more CPU than the exchange itself (the provider client's JSON reads)."""
        conn, raw = self._send(origin, method, target, headers, b"", timeouts)
        try:
            with _body_errors():
                body = raw.read()
        except BaseException:
            conn.close()
            raise
        if raw.will_close:
            conn.close()
        else:
            raw.close()  # the response, not the socket: http.client can send again
            self._give_back(origin, conn)
        return raw.status, raw.getheaders(), body

    def _send(
        self, origin: Origin, method: str, target: str, headers: Headers, body: bytes, timeouts: dict
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Send on a kept connection, or a new one, and read the answer's head."""
        conn = self._take(origin)
        if conn is not None:
            try:
                return conn, self._exchange(conn, method, target, headers, body, timeouts, kept=True)
            except _Closed as closed:
                if method not in REPEATABLE:
                    raise httpx.RemoteProtocolError(
                        f"the server closed the connection: {_said(closed.cause)}"
                    ) from None
        conn = self._connect(origin, timeouts.get("connect"))
        try:
            return conn, self._exchange(conn, method, target, headers, body, timeouts, kept=False)
        except _Closed as closed:
            raise httpx.RemoteProtocolError(
                f"the server closed the connection without answering: {_said(closed.cause)}"
            ) from None

    def _exchange(
        self,
        conn: http.client.HTTPConnection,
        method: str,
        target: str,
        headers: Headers,
        body: bytes,
        timeouts: dict,
        *,
        kept: bool,
    ) -> http.client.HTTPResponse:
        """Send the request on ``conn`` and read the answer's head; raises ``_Closed``
        when a kept connection turns out closed before any answer came."""
        try:
            conn.sock.settimeout(timeouts.get("write"))
            # The caller has set Host, Accept-Encoding and Content-Length: sent as they are.
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            conn.endheaders(body or None)
        except ValueError:
            # http.client refuses a line break or control character in a header (a token
            # pasted with its newline): said without the value, which may be a secret.
            conn.close()
            raise httpx.LocalProtocolError("a request header holds a character HTTP does not allow") from None
        except TimeoutError as exc:
            conn.close()
            raise httpx.WriteTimeout(str(exc) or "timed out") from exc
        except OSError as exc:
            conn.close()
            if kept:
                raise _Closed(exc) from exc
            raise httpx.WriteError(str(exc)) from exc
        except BaseException:
            conn.close()
            raise
        try:
            conn.sock.settimeout(timeouts.get("read"))
            return conn.getresponse()
        except TimeoutError as exc:
            conn.close()
            raise httpx.ReadTimeout(str(exc) or "timed out") from exc
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
            conn.close()
            if kept:
                raise _Closed(exc) from exc
            raise httpx.RemoteProtocolError(
                f"the server closed the connection without answering: {_said(exc)}"
            ) from exc
        except http.client.HTTPException as exc:
            conn.close()
            raise httpx.RemoteProtocolError(f"not an HTTP answer: {_said(exc)}") from exc
        except OSError as exc:
            conn.close()
            raise httpx.ReadError(str(exc)) from exc
        except BaseException:
            conn.close()
            raise


def url_target(url: httpx.URL) -> str:
    """The request target: the URL's path and query, as httpx has encoded them."""
    return url.raw_path.decode("ascii")
