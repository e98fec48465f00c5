"""Semaphore job logs (docs/providers/semaphore.md, "Job logs"): the event stream as
terminal text with a section around each command, and the redirect that jobs on
self-hosted agents answer.

Section markers: ``section_start`` / ``section_end`` write the dashboard's neutral marker
lines (``dashboard.logsections``) where a command's output begins and ends, with its
exit code and duration, so the log viewer folds each command.

Redirects: a self-hosted agent's log lives in a log store; Semaphore answers 302 to a
signed URL there (on its own host). ``follow_log_redirect`` follows it only to the
connection's own origin or to origins the connection lists (``options["log_origins"]``);
anywhere else is refused in words, never fetched."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urljoin, urlsplit

import httpx

from dashboard.logsections import end_marker, start_marker
from providers.base.errors import BadResponse
from providers.base.outbound import follow_redirect
from providers.base.parse import integer, obj, text

DEFAULT_PORTS = {"http": 80, "https": 443}


# Section markers ------------------------------------------------------------------------
def section_start(command: str) -> str:
    """The line that opens a command's section; the command is its title."""
    return start_marker(f"$ {command}")


def section_end(exit_code: int | None, seconds: int | None) -> str:
    """The lines that close a command's section: a failing exit code in words inside it
    (the raw download shows it too), then the marker with how it ended."""
    shown = f"\x1b[31mexit code {exit_code}\x1b[0m\n" if exit_code else ""
    return shown + end_marker(exit_code, seconds)


def render_events(events: list, start: int = 0) -> str:
    """``events[start:]`` as terminal text: each command in its section, its output as
    sent, the job's end in words."""
    out: list[str] = []
    for event in events[start:]:
        event = obj(event)
        kind = event.get("event")
        if kind == "cmd_started":
            out.append(section_start(text(event.get("directive"), 2000)))
        elif kind == "cmd_output":
            out.append(text(event.get("output"), 1_000_000))
        elif kind == "cmd_finished":
            began, ended = integer(event.get("started_at")), integer(event.get("finished_at"))
            seconds = ended - began if began is not None and ended is not None and ended >= began else None
            out.append(section_end(integer(event.get("exit_code")), seconds))
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
    # The outbound policy fetches it: our token only to our own origin, a fresh client
    # without it elsewhere, and never an address the policy refuses.
    return follow_redirect(client, target, allowed_origins=[o for o in allowed if o != own])
