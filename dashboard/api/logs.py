"""Byte windows of a stored job log, for API clients that page or tail it."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from dashboard import logstore
from dashboard.logstore import read_bytes
from dashboard.models import Job, Log
from providers.base.adapter import Capability
from providers.base.errors import ProviderError
from providers.registry import adapter_class

__all__ = ["MAX_WINDOW", "fresh_log", "read_bytes"]

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
