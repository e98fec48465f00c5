"""Serving a simulator the way the providers' servers serve: HTTP/1.1 with persistent
connections and ``TCP_NODELAY``, an idle connection closed after a while.

werkzeug's development server closes the connection after every answer, because after a
response it drains the request's unread body by reading whatever the socket holds, which
on a persistent connection would swallow the client's next request. So every request
paid a new TCP connection on both sides (and a new server thread), which no provider's
server makes a client pay. Here the body the application left unread is discarded by its
length instead, and werkzeug's drain is given nothing to read."""

from __future__ import annotations

import atexit
import contextlib
import http.server
import io
import socket
import threading
from typing import Any

from werkzeug.exceptions import ClientDisconnected
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wsgi import LimitedStream

from providers.base.http11 import reading_heads_directly

# Seconds an idle persistent connection is kept before the server closes it (Cowboy, which
# serves Phoenix applications, closes after 60 s; Go's and nginx's defaults are of that order).
IDLE_SECONDS = 60.0


def _always_readable() -> socket.socket:
    """A socket that always has a byte to read: werkzeug's drain selects on it and reads
    an empty stream, so it returns at once instead of waiting 10 ms for the next request."""
    ours, theirs = socket.socketpair()
    theirs.sendall(b"x")
    atexit.register(ours.close)
    atexit.register(theirs.close)
    return ours


_READABLE = _always_readable()


class PersistentHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = IDLE_SECONDS
    # An answer's head and body go out in one write: werkzeug writes them one after the
    # other and flushes after each part of a body, so unbuffered each answer took two
    # sends or more (and, without Nagle, as many packets). A streamed body (a log
    # stream) still goes out part by part, as werkzeug flushes after each; what is left
    # (a chunked body's last chunk) goes when http.server flushes after the request.
    wbufsize = 64 * 1024

    # Requests' heads read without the email parser, a third of a request's CPU here.
    parse_request = reading_heads_directly(http.server.BaseHTTPRequestHandler.parse_request)

    def setup(self) -> None:
        super().setup()
        self._socket, self._rfile, self._body = self.connection, self.rfile, None
        with self.server.counting:  # type: ignore[attr-defined]
            self.server.open_connections.add(self._socket)  # type: ignore[attr-defined]
            self.server.connections_opened += 1  # type: ignore[attr-defined]

    def finish(self) -> None:
        self.server.open_connections.discard(self._socket)  # type: ignore[attr-defined]
        try:
            super().finish()
        except OSError:
            # The client left with part of an answer unsent: closing the buffered writer
            # tries to send it once more. Nothing is left to say to that client.
            self.rfile.close()

    def send_header(self, keyword: str, value: str) -> None:
        # werkzeug says "Connection: close" on every answer; say it only when this one
        # will close (the client asked, or an error cut a chunked answer short).
        if keyword.lower() == "connection" and value.lower() == "close" and not self.close_connection:
            return
        super().send_header(keyword, value)

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        if "wsgi.input_terminated" in environ:  # a chunked body: close rather than find its end
            self.close_connection = True
        else:
            length = environ.get("CONTENT_LENGTH", "")
            self._body = LimitedStream(self.rfile, int(length) if length.isdigit() else 0)
            environ["wsgi.input"] = self._body
        # What werkzeug's drain reads after the answer: nothing, at once.
        self.connection, self.rfile = _READABLE, io.BytesIO()
        return environ

    def run_wsgi(self) -> None:
        self._body = None
        try:
            super().run_wsgi()
        finally:
            self.connection, self.rfile = self._socket, self._rfile
            if self._body is not None and not self.close_connection:
                try:
                    self._body.exhaust()  # the next request starts after this one's body
                except (OSError, ValueError, ClientDisconnected):
                    self.close_connection = True

    def log_error(self, format: str, *args: Any) -> None:
        if not (args and isinstance(args[0], TimeoutError)):  # an idle connection closed
            super().log_error(format, *args)


def serve(app: Any, host: str, port: int) -> BaseWSGIServer:
    """A threaded server (one thread per connection) with persistent connections."""
    server = make_server(host, port, app, threaded=True, request_handler=PersistentHandler)
    server.daemon_threads = True
    server.open_connections = set()  # type: ignore[attr-defined]
    server.connections_opened = 0  # type: ignore[attr-defined]
    server.counting = threading.Lock()  # type: ignore[attr-defined]
    return server


def close_connections(server: BaseWSGIServer) -> None:
    """End the connections a stopped server still holds: a stopped simulator must not keep
    answering on a connection a client kept."""
    for sock in list(server.open_connections):  # type: ignore[attr-defined]
        with contextlib.suppress(OSError):  # it closed meanwhile
            sock.shutdown(socket.SHUT_RDWR)


__all__ = ["IDLE_SECONDS", "PersistentHandler", "close_connections", "serve"]
