"""The simulated Harmont log stream (docs/providers/harmont.md, "Logs"): build-scoped
HMAC log tokens that expire, and ``GET /v0/jobs/{id}/logs?token=`` as server-sent events
(``history``, ``chunk`` with ``id: <seq>``, ``:`` heartbeats after ``heartbeat`` quiet
seconds, ``done`` right after a heartbeat once the job is terminal), resumable with
``Last-Event-ID``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from werkzeug.wrappers import Request, Response

from . import world
from .world import Build, Job


class LogStreamMixin:
    """For HarmontSimulator: needs ``find_build``, ``jobs``, ``now``, ``advance``, ``lock``,
    ``heartbeat``, ``log_token_ttl``, ``drop_stream_after``, ``_secret``, ``_closing``."""

    def get_log_token(self, request: Request, org: str, pipeline: str, number: str) -> Response:
        build = self.find_build(request, org, pipeline, number)
        if isinstance(build, Response):
            return build
        expires = int(self.now() + self.log_token_ttl)
        payload = base64.urlsafe_b64encode(f"{build.key}|{expires}".encode()).decode().rstrip("=")
        signature = hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()[:32]
        return self.json(
            {
                "token": f"{payload}.{signature}",
                "expires_at": datetime.fromtimestamp(expires, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )

    def token_build(self, token: str) -> str | None:
        """The build key a valid, unexpired log token names."""
        payload, _, signature = token.partition(".")
        expected = hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()[:32]
        if not payload or not hmac.compare_digest(signature, expected):
            return None
        try:
            key, _, expires = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode().rpartition("|")
            return key if float(expires) > self.now() else None
        except ValueError:
            return None

    def log_stream(self, request: Request, job_id: str) -> Response:
        key = self.token_build(request.args.get("token", ""))
        if key is None:
            body = {"code": "log_stream_unauthorized", "message": "The log token is missing, invalid or expired."}
            return self.json(body, status=401)
        found = self.jobs.get(job_id)
        if found is None or found[0].key != key:
            body = {"code": "log_stream_forbidden", "message": "This log token does not grant access to that job."}
            return self.json(body, status=403)
        last = request.headers.get("Last-Event-ID") or request.args.get("last_event_id") or ""
        after = int(last) if last.strip().lstrip("-").isdigit() else -1
        return Response(
            self.stream(*found, after),
            mimetype="text/event-stream",
            headers={"cache-control": "no-cache"},
            direct_passthrough=True,
        )

    def stream(self, build: Build, job: Job, after: int) -> Iterator[bytes]:
        with self.lock:
            history = [c for c in world.log_chunks(build, job, self.now()) if c.seq > after]
        yield frame("history", {"chunks": [chunk_json(c) for c in history]})
        sent = history[-1].seq if history else after
        quiet_since = time.monotonic()
        frames = 0
        while not self._closing.wait(min(0.05, self.heartbeat / 4)):
            with self.lock:
                self.advance()
                t = self.now()
                fresh = [c for c in world.log_chunks(build, job, t) if c.seq > sent]
                terminal = build.job_state(job, t) in world.TERMINAL_JOB
            for chunk in fresh:
                if self.drop_stream_after is not None and frames >= self.drop_stream_after:
                    # Leave the chunked body unterminated: the client sees a broken connection.
                    raise ConnectionAbortedError("simulated dropped log stream")
                yield frame("chunk", chunk_json(chunk), event_id=chunk.seq)
                frames += 1
                sent = chunk.seq
                quiet_since = time.monotonic()
            if time.monotonic() - quiet_since >= self.heartbeat:
                yield b":\n\n"
                quiet_since = time.monotonic()
                if terminal:
                    yield frame("done", {})
                    return


def frame(event: str, data: dict, event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def chunk_json(chunk: world.Chunk) -> dict:
    return {"seq": chunk.seq, "stream_kind": chunk.stream_kind, "content": chunk.content, "ts": int(chunk.at * 1e9)}
