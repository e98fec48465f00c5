import logging
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from dashboard import logstore
from dashboard.ansi import to_html
from dashboard.models import Connection, Job, Log
from providers.base.adapter import Capability
from providers.base.errors import ProviderError
from providers.registry import adapter_class

from .common import job_or_404

log = logging.getLogger(__name__)

SHOWN_BYTES = 256 * 1024
MAX_MATCHES = 1000
LAST_LINES_GRACE = timedelta(minutes=2)


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


def search_lines(log_row: Log, needle: str) -> tuple[list[tuple[int, str]], bool]:
    """Matching lines with their numbers, read chunk by chunk."""
    matches: list[tuple[int, str]] = []
    number, rest = 0, ""
    for chunk in logstore.read(log_row):
        lines = (rest + chunk).split("\n")
        rest = lines.pop()
        for line in lines:
            number += 1
            if needle.lower() in line.lower():
                matches.append((number, line))
                if len(matches) >= MAX_MATCHES:
                    return matches, True
    if rest and needle.lower() in rest.lower():
        matches.append((number + 1, rest))
    return matches, False


def job_detail(request: HttpRequest, kind: str, slug: str, external_id: str) -> HttpResponse:
    job = job_or_404(kind, slug, external_id)
    log_row, log_error = _refreshed(job)
    needle = request.GET.get("q", "").strip()[:200]
    context = {
        "job": job,
        "build": job.build,
        "log": log_row,
        "log_error": log_error,
        "q": needle,
        "live": _live(job, log_row),
        "logs_supported": _supports(job, Capability.LOGS),
    }
    if needle:
        matches, capped = search_lines(log_row, needle)
        context.update(matches=[(n, to_html(line)) for n, line in matches], capped=capped)
    else:
        offset = logstore.tail_offset(log_row, SHOWN_BYTES)
        context.update(offset=offset, log_html=to_html("".join(logstore.read(log_row, offset))), truncated=offset > 0)
    return render(request, "dashboard/job.html", context)


def job_log_tail(request: HttpRequest, kind: str, slug: str, external_id: str) -> HttpResponse:
    """New log output after ``offset``, and a poller that asks again while the job runs."""
    job = job_or_404(kind, slug, external_id)
    try:
        offset = max(int(request.GET.get("offset", "0")), 0)
    except ValueError:
        offset = 0
    log_row, log_error = _refreshed(job)
    job.refresh_from_db()
    offset = min(offset, log_row.size)
    text = "".join(logstore.read(log_row, offset)) if log_row.size > offset else ""
    return render(
        request,
        "dashboard/job.html#tail",
        {
            "job": job,
            "log": log_row,
            "log_error": log_error,
            "new_html": to_html(text) if text else "",
            "live": _live(job, log_row),
            "oob": True,
        },
    )


def job_log_raw(request: HttpRequest, kind: str, slug: str, external_id: str) -> StreamingHttpResponse:
    job = job_or_404(kind, slug, external_id)
    log_row, _ = _refreshed(job)
    response = StreamingHttpResponse(
        (part.encode() for part in logstore.read(log_row)), content_type="text/plain; charset=utf-8"
    )
    safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in job.external_id)[:100]
    response["Content-Disposition"] = f'attachment; filename="{kind}-{safe_name}.log"'
    return response
