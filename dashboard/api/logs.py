"""Byte windows of a stored job log, for API clients that page or tail it."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from dashboard import logstore
from dashboard.models import Job, Log
from providers.base.adapter import Capability
from providers.base.errors import ProviderError
from providers.registry import adapter_class

# The largest window one request may ask for; bigger logs are read in several windows.
MAX_WINDOW = 1024 * 1024


def fresh_log(job: Job) -> Log:
    """The job's log, first fetching what the provider has beyond our copy when it may have
    grown (at most every ``LOG_REFRESH_AFTER`` seconds, as the job page does). A provider
    failure leaves what we hold, which is still a correct prefix of the log."""
    log_row = logstore.log_for(job)
    recently = log_row.fetched_at and timezone.now() - log_row.fetched_at < timedelta(
        seconds=settings.LOG_REFRESH_AFTER
    )
    if log_row.complete or recently or job.state == "queued":
        return log_row
    if Capability.LOGS not in adapter_class(job.connection.kind).capabilities:
        return log_row
    try:
        return logstore.refresh_log(job, interactive=True)
    except ProviderError:
        return log_row


def read_bytes(log: Log, offset: int = 0, limit: int | None = None) -> Iterator[bytes]:
    """The stored bytes ``[offset, offset + limit)`` (to the end without ``limit``), one
    chunk at a time. Windows are exact bytes: a multi-byte character split by a window
    boundary is whole again once the windows are joined."""
    end = None if limit is None else offset + limit
    first = log.chunks.filter(start__lte=offset).order_by("-start").values_list("start", flat=True).first() or 0
    chunks = log.chunks.filter(start__gte=first)
    if end is not None:
        chunks = chunks.filter(start__lt=end)
    for chunk in chunks.order_by("start").iterator():
        data = zlib.decompress(chunk.data)
        low = max(offset - chunk.start, 0)
        high = len(data) if end is None else max(end - chunk.start, 0)
        if piece := data[low:high]:
            yield piece
