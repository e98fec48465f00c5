"""A generic webhook endpoint on loopback that records what Apprise's json:// sends it,
and can refuse the next N requests (503) to exercise retries."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self):
        self.messages: list[dict] = []
        self.refused: list[dict] = []
        self.refuse = 0  # refuse this many more requests; -1 refuses all
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                message = {"path": self.path, **json.loads(body or b"{}")}
                with receiver.lock:
                    refusing = receiver.refuse != 0
                    if receiver.refuse > 0:
                        receiver.refuse -= 1
                    (receiver.refused if refusing else receiver.messages).append(message)
                self.send_response(503 if refusing else 200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(f"{'busy' if refusing else 'ok'}: {self.path}".encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 30) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} message(s), got {self.messages}")
