"""Semaphore job logs (docs/providers/semaphore.md, "Job logs"): the event stream as
terminal text with a section around each command, and the redirect that jobs on
self-hosted agents answer.

Section markers: ``section_start`` / ``section_end`` write the lines that mark where a
command's output begins and ends (with its exit code and duration), so a log viewer can
fold each command. They are the only place that knows the marker format.

Redirects: a self-hosted agent's log lives in a log store; Semaphore answers 302 to a
signed URL there (on its own host). ``follow_log_redirect`` follows it only to the
connection's own origin or to origins the connection lists (``options["log_origins"]``);
anywhere else is refused in words, never fetched."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urljoin, urlsplit

import httpx

from providers.base.errors import BadResponse
from providers.base.parse import integer, obj, text

DEFAULT_PORTS = {"http": 80, "https": 443}


# Section markers ------------------------------------------------------------------------
def section_start(number: int, command: str, at: int | None) -> str:
    """The line that opens command ``number``'s section; the command is its title."""
    return f"\x1b[0Ksection_start:{at or 0}:cmd_{number}\r\x1b[0K\x1b[1m$ {command}\x1b[0m\n"


def section_end(number: int, exit_code: int | None, seconds: int | None, at: int | None) -> str:
    """The line that closes command ``number``'s section, with how it ended."""
    facts = [
        f"exit_code={exit_code}" if exit_code is not None else "",
        f"duration={seconds}s" if seconds is not None else "",
    ]
    details = ",".join(f for f in facts if f)
    shown = f"\x1b[31mexit code {exit_code}\x1b[0m" if exit_code else ""
    return f"\x1b[0Ksection_end:{at or 0}:cmd_{number}[{details}]\r\x1b[0K{shown}\n"


def render_events(events: list, start: int = 0) -> str:
    """``events[start:]`` as terminal text: each command in its section, its output as
    sent, the job's end in words. Sections are numbered over the whole stream, so a log
    fetched piece by piece numbers them the same."""
    number = sum(1 for e in events[:start] if obj(e).get("event") == "cmd_started")
    out: list[str] = []
    for event in events[start:]:
        event = obj(event)
        kind = event.get("event")
        at = integer(event.get("timestamp"))
        if kind == "cmd_started":
            number += 1
            out.append(section_start(number, text(event.get("directive"), 2000), at))
        elif kind == "cmd_output":
            out.append(text(event.get("output"), 1_000_000))
        elif kind == "cmd_finished":
            began, ended = integer(event.get("started_at")), integer(event.get("finished_at"))
            seconds = ended - began if began is not None and ended is not None and ended >= began else None
            out.append(section_end(number, integer(event.get("exit_code")), seconds, at))
        elif kind == "job_finished":
            out.append(f"\x1b[2mJob {text(event.get('result')) or 'finished'}\x1b[0m\n")
    return "".join(out)


def exit_code_of(events: Iterable) -> int | None:
    """The last non-zero exit code of the commands, or None."""
    code = None
    for event in events:
        event = obj(event)
        if event.get("event") == "cmd_finished" and integer(event.get("exit_code")):
            code = integer(event.get("exit_code"))
    return code


# Redirects ------------------------------------------------------------------------------
def origin(url: str) -> str:
    """``scheme://host:port`` of a URL, lower case, with the default port written out."""
    parts = urlsplit(url)
    scheme = (parts.scheme or "").lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        return ""
    host = (parts.hostname or "").lower()
    return f"{scheme}://{host}:{port}" if scheme in DEFAULT_PORTS and host else ""


def follow_log_redirect(client, location: str, allowed_origins: Iterable[str]) -> httpx.Response:
    """Fetch the log where Semaphore's 302 points, if that is the connection's own origin
    or one of ``allowed_origins``; otherwise say so (a ``BadResponse``) without any
    request. Our token goes only to our own origin."""
    if not location:
        raise BadResponse("Semaphore answered the log with a redirect to nowhere.")
    target = urljoin(client.base_url + "/", location)
    own = origin(client.base_url)
    where = origin(target)
    allowed = {own} | {origin(o) for o in allowed_origins if isinstance(o, str)}
    if not where or where not in allowed:
        shown = where or target[:100]
        raise BadResponse(
            f"Semaphore keeps this job's log at {shown}, which is neither this connection's address nor one of its "
            "log_origins, so it was not fetched. An admin can add that origin to the connection's log_origins."
        )
    return client.log_at(target, own_origin=where == own)
