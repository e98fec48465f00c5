"""The job page and its log. The page renders from the database at once; new output is
fetched from the provider by the HTMX tail request after the page is shown, and the
viewer loads the lines it scrolls to in pages, never the whole log."""

import json
import logging
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from dashboard import logindex, logstore
from dashboard.ansi import to_html
from dashboard.logsections import strip
from dashboard.models import Connection, Job, Log
from providers.base.adapter import Capability
from providers.base.errors import ProviderError
from providers.registry import adapter_class

from .common import job_or_404

log = logging.getLogger(__name__)

MAX_MATCHES = 1000
VIEWER_MATCHES = 10000
LAST_LINES_GRACE = timedelta(minutes=2)
# Lines rendered with the page (the end of the log); the viewer fetches the rest on demand.
FIRST_LINES = 200
# The most lines one request for a window of the log returns.
WINDOW_MAX = 1000
# The most new lines one tail answer carries; the viewer pages in anything older.
TAIL_MAX = 2000


def _supports(job: Job, capability: Capability) -> bool:
    return capability in adapter_class(job.connection.kind).capabilities


def _refreshed(job: Job) -> tuple[Log, str]:
    """The job's log, first fetching what is new when it may have grown; a provider
    failure is returned in words next to what we already hold."""
    log_row = logstore.log_for(job)
    refresh_after = timedelta(seconds=settings.LOG_REFRESH_AFTER)
    fresh = log_row.fetched_at and timezone.now() - log_row.fetched_at < refresh_after
    if log_row.complete or fresh or job.state == "queued" or not _supports(job, Capability.LOGS):
        return log_row, ""
    try:
        log_row = logstore.refresh_log(job, interactive=True)
    except ProviderError as exc:
        return log_row, f"Could not fetch the log from {job.connection}: {exc}"
    if log_row.complete and not job.finished:
        # The log says the job ended before our copy of its state does: sync soon.
        Connection.objects.filter(pk=job.connection_id).update(next_sync_at=timezone.now())
    return log_row, ""


def _live(job: Job, log_row: Log) -> bool:
    """Keep tailing while the job runs, and briefly after it ends for the last lines."""
    if not job.finished:
        return True
    if log_row.complete or not _supports(job, Capability.LOGS):
        return False
    return bool(job.finished_at and timezone.now() - job.finished_at < LAST_LINES_GRACE)


def line_html(text: str) -> str:
    """A stored line as the reader sees it: markers out, and for a line rewritten with
    carriage returns (progress bars) only what a terminal would show last."""
    text = strip(text).rstrip("\r")
    return to_html(text.rsplit("\r", 1)[-1])


def _numbered(log_row: Log, index: logindex.LogIndex, first: int, count: int) -> list[tuple[int, str]]:
    lines = logindex.read_lines(log_row, index, first, count)
    return [(first + i, line_html(text)) for i, text in enumerate(lines)]


def search_lines(log_row: Log, needle: str, limit: int = MAX_MATCHES) -> tuple[list[tuple[int, str]], bool]:
    """Matching lines (case-insensitive) with their numbers. The stored bytes are searched
    a chunk at a time with ``find`` on the chunk, not line by line, and only the matching
    lines are decoded; lines are counted only between matches."""
    try:
        wanted = needle.lower().encode("ascii")
    except UnicodeEncodeError:
        return _search_text(log_row, needle, limit)
    matches: list[tuple[int, str]] = []
    number, rest = 1, b""  # the number of the first line in ``rest + chunk``
    for chunk in logstore.read_bytes(log_row):
        buffer = rest + chunk
        cut = buffer.rfind(b"\n")
        if cut < 0:
            rest = buffer
            continue
        body, rest = buffer[:cut], buffer[cut + 1 :]
        number, capped = _find_in(body, wanted, number, matches, limit)
        if capped:
            return matches, True
    if rest and wanted in rest.lower():
        matches.append((number, rest.decode("utf-8", "replace")))
    return matches, False


def _find_in(body: bytes, wanted: bytes, number: int, matches: list, limit: int) -> tuple[int, bool]:
    """Add the lines of ``body`` (whole lines, the last without its newline) that contain
    ``wanted``; the number of the line after ``body``, and whether ``limit`` was reached."""
    lowered = body.lower()  # ASCII letters only: the same length, so positions agree
    counted, pos = 0, lowered.find(wanted)
    while pos >= 0:
        begin = body.rfind(b"\n", 0, pos) + 1
        end = body.find(b"\n", pos)
        end = len(body) if end < 0 else end
        number += body.count(b"\n", counted, begin)
        counted = begin
        matches.append((number, body[begin:end].decode("utf-8", "replace")))
        if len(matches) >= limit:
            return number, True
        pos = lowered.find(wanted, end)
    return number + body.count(b"\n", counted) + 1, False


def _search_text(log_row: Log, needle: str, limit: int) -> tuple[list[tuple[int, str]], bool]:
    """For a needle beyond ASCII, where case folding needs the decoded text."""
    matches: list[tuple[int, str]] = []
    needle = needle.lower()
    number, rest = 0, ""
    for chunk in logstore.read(log_row):
        lines = (rest + chunk).split("\n")
        rest = lines.pop()
        for line in lines:
            number += 1
            if needle in line.lower():
                matches.append((number, line))
                if len(matches) >= limit:
                    return matches, True
    if rest and needle in rest.lower():
        matches.append((number + 1, rest))
    return matches, False


def _sections_seen(index: logindex.LogIndex) -> str:
    """Changes whenever a section starts or ends, so a tail answer carries the sections
    only when the viewer's copy is out of date."""
    return f"{len(index.sections)}.{len(index.open)}"


def _viewer_context(job: Job, log_row: Log, index: logindex.LogIndex) -> dict:
    total = index.total_lines
    first = max(total - FIRST_LINES + 1, 1)
    return {
        "lines": _numbered(log_row, index, first, FIRST_LINES),
        "first_line": first,
        "total_lines": total,
        "sections": index.section_dicts(),
        "sections_seen": _sections_seen(index),
    }


def job_detail(request: HttpRequest, kind: str, slug: str, external_id: str) -> HttpResponse:
    job = job_or_404(kind, slug, external_id)
    log_row = logstore.log_for(job)  # what we hold; the tail request asks the provider
    logs_supported = _supports(job, Capability.LOGS)
    needle = request.GET.get("q", "").strip()[:200]
    context = {
        "job": job,
        "build": job.build,
        "log": log_row,
        "q": needle,
        "logs_supported": logs_supported,
        # Ask the provider right after the page shows when our copy may be behind.
        "fetch": logs_supported and (not log_row.complete or not job.finished),
        "live": logs_supported and _live(job, log_row),
    }
    if needle:
        matches, capped = search_lines(log_row, needle)
        context.update(matches=[(n, line_html(line)) for n, line in matches], capped=capped)
    else:
        context.update(_viewer_context(job, log_row, logindex.index_for(log_row)))
    return render(request, "dashboard/job.html", context)


def _line_param(request: HttpRequest, name: str, default: int) -> int:
    try:
        return max(int(request.GET.get(name, default)), 1)
    except ValueError:
        return default


def job_log_tail(request: HttpRequest, kind: str, slug: str, external_id: str) -> HttpResponse:
    """Fetch what the provider has new, then answer with the lines from ``line`` on (the
    viewer's last line, which may have grown), the sections, and a poller that asks again
    while the job runs."""
    job = job_or_404(kind, slug, external_id)
    log_row, log_error = _refreshed(job)
    job.refresh_from_db()
    index = logindex.index_for(log_row)
    total = index.total_lines
    # From the viewer's last line (it may have been unfinished); a long gap is paged in.
    first = max(_line_param(request, "line", 1), total - TAIL_MAX + 1, 1)
    return render(
        request,
        "dashboard/job.html#tail",
        {
            "job": job,
            "log": log_row,
            "log_error": log_error,
            "new_lines": _numbered(log_row, index, first, total - first + 1) if total >= first else [],
            "total_lines": total,
            "sections_json": (
                "" if request.GET.get("s") == _sections_seen(index) else json.dumps(index.section_dicts())
            ),
            "sections_seen": _sections_seen(index),
            "live": _live(job, log_row),
            "fetch": False,
            "oob": True,
        },
    )


def job_log_lines(request: HttpRequest, kind: str, slug: str, external_id: str) -> JsonResponse:
    """A window of the stored log as HTML lines: ``?from=<line>&count=<n>``."""
    job = job_or_404(kind, slug, external_id)
    log_row = logstore.log_for(job)
    index = logindex.index_for(log_row)
    first = _line_param(request, "from", 1)
    count = min(_line_param(request, "count", 500), WINDOW_MAX)
    lines = _numbered(log_row, index, first, count)
    return JsonResponse({"from": first, "lines": [html for _, html in lines], "total": index.total_lines})


def job_log_search(request: HttpRequest, kind: str, slug: str, external_id: str) -> JsonResponse:
    """The numbers of the lines that contain ``q`` (case-insensitive), for next/previous."""
    job = job_or_404(kind, slug, external_id)
    needle = request.GET.get("q", "").strip()[:200]
    if not needle:
        return JsonResponse({"q": "", "matches": [], "capped": False})
    matches, capped = search_lines(logstore.log_for(job), needle, VIEWER_MATCHES)
    return JsonResponse({"q": needle, "matches": [n for n, _ in matches], "capped": capped})


def job_log_raw(request: HttpRequest, kind: str, slug: str, external_id: str) -> StreamingHttpResponse:
    job = job_or_404(kind, slug, external_id)
    log_row, _ = _refreshed(job)
    # The stored bytes as they are, a few chunks per database round trip: memory stays
    # flat however long the log is.
    response = StreamingHttpResponse(logstore.read_bytes(log_row), content_type="text/plain; charset=utf-8")
    safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in job.external_id)[:100]
    response["Content-Disposition"] = f'attachment; filename="{kind}-{safe_name}.log"'
    return response
