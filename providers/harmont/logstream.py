"""Harmont job logs (docs/providers/harmont.md, "Logs"): a build-scoped log token, then
the server-sent event stream ``/v0/jobs/{id}/logs?token=…``: one ``history`` frame
(everything, or what follows ``Last-Event-ID``), ``chunk`` frames with ``id: <seq>``,
``:`` heartbeats after 15 s without output, and ``done`` right after a heartbeat once
the job is terminal.

A fetch reads what is there without waiting for long: for a running job it stops after
``idle`` seconds without a chunk (or ``budget`` seconds in all); for a finished job right
after the ``history`` replay. It resumes next time from the last ``seq`` with
``Last-Event-ID``. The log is complete after ``done``; and, because ``done`` only ever
follows a 15 s silence, also when the job finished more than ``settle`` seconds ago and
the replay arrived: that replay is then the whole log, so a finished job's log costs one
short request instead of a wait for ``done``.

Rendering: stdout as sent; stderr lines wrapped in bright red (SGR 91, re-applied after
any reset inside the line); meta lines (runner notes, exit status) dimmed (SGR 2). Each
line is wrapped on its own so a log read from any offset keeps its colours."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
from httpx_sse import ServerSentEvent

# The event decoders of httpx-sse (pinned): its EventSource hides ':' heartbeats, and we
# need to see them to stop reading a stream that only keeps itself alive.
from httpx_sse._decoders import SSEDecoder, SSELineDecoder

from providers.base.errors import BadResponse
from providers.base.parse import integer, obj, text

STDOUT, STDERR, META = 0, 1, 2
SGR = {STDERR: "\x1b[91m", META: "\x1b[2m"}
RESET = "\x1b[0m"
HEARTBEAT = "heartbeat"
_TICK = "tick"
_LINES = re.compile(r"[^\n]*\n|[^\n]+")


def frames(response: httpx.Response) -> Iterator[ServerSentEvent | str]:
    """Events, ``HEARTBEAT`` for each ``:`` comment, and a tick after every network read
    so the reader can look at the clock even when no event is complete."""
    content_type = response.headers.get("content-type", "").partition(";")[0].strip()
    if content_type != "text/event-stream":
        raise BadResponse(f"Harmont's log stream answered {content_type or 'no content type'}, not an event stream.")
    lines, decoder = SSELineDecoder(), SSEDecoder()

    def decode(line: str) -> Iterator[ServerSentEvent | str]:
        if line.startswith(":"):
            yield HEARTBEAT
            return
        event = decoder.decode(line)
        if event is not None:
            yield event

    for piece in response.iter_text():
        for line in lines.decode(piece):
            yield from decode(line)
        yield _TICK
    for line in lines.flush():
        yield from decode(line)


@dataclass
class StreamRead:
    chunks: list[dict] = field(default_factory=list)
    done: bool = False
    saw_history: bool = False
    dropped: bool = False

    @property
    def last_seq(self) -> int | None:
        return integer(self.chunks[-1].get("seq")) if self.chunks else None


def read_stream(
    response: httpx.Response, after: int | None, *, idle: float, budget: float, history_only: bool = False
) -> StreamRead:
    """Read a log stream until ``done``, ``idle`` seconds without output, ``budget``
    seconds in all, or a broken connection (or, with ``history_only``, the replay); keep
    chunks after ``after``, in seq order."""
    result = StreamRead()
    found: dict[int, dict] = {}
    start = last_output = time.monotonic()
    try:
        for item in frames(response):
            now = time.monotonic()
            if isinstance(item, ServerSentEvent):
                if item.event == "done":
                    result.done = True
                    break
                if item.event in ("history", "chunk"):
                    payload = _json(item.data)
                    history = item.event == "history"
                    result.saw_history |= history
                    for chunk in [obj(c) for c in (payload.get("chunks") or [])] if history else [payload]:
                        seq = integer(chunk.get("seq")) if isinstance(chunk, dict) else None
                        if seq is not None and (after is None or seq > after):
                            found[seq] = chunk
                    last_output = now
                    if history and history_only:
                        break
            if now - last_output >= idle or now - start >= budget:
                break
    except httpx.ReadTimeout:
        pass  # quiet for longer than ``idle``: what we have is all there is for now
    except (httpx.RemoteProtocolError, httpx.ReadError):
        result.dropped = True  # resumed next time from the last seq we kept
    finally:
        response.close()
    result.chunks = [found[seq] for seq in sorted(found)]
    return result


def _json(data: str) -> dict:
    try:
        return obj(json.loads(data))
    except ValueError:
        return {}


def render(chunks: list[dict]) -> str:
    return "".join(paint(text(c.get("content"), 10_000_000), integer(c.get("stream_kind"))) for c in chunks)


def paint(content: str, stream_kind: int | None) -> str:
    sgr = SGR.get(stream_kind) if stream_kind is not None else None
    if not sgr:
        return content
    out = []
    for part in _LINES.findall(content):
        body, newline = (part[:-1], "\n") if part.endswith("\n") else (part, "")
        body = body.replace(RESET, RESET + sgr).replace("\x1b[m", "\x1b[m" + sgr)
        out.append(f"{sgr}{body}{RESET}{newline}" if body else newline)
    return "".join(out)
