"""Exporting finished builds' traces from a Celery task, once per build.

``batch_applied`` names the builds that finished in a batch; a task exports each one.
A ``TraceExport`` row per build is claimed with a short lease before sending and marked
sent after the collector accepted it, so overlapping syncs, repeated signals and
concurrent workers send a build once. A worker that dies between sending and marking
leaves the lease to run out and the build is sent again with the same ids (see traces.py)."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from dashboard.models import Build
from dashboard.states import FINISHED

from .models import TraceExport
from .traces import export_build

log = logging.getLogger(__name__)

CLAIM = timedelta(minutes=2)
MAX_RETRIES = 6


def export_once(build_id: int, endpoint: str) -> bool:
    """Export one build unless it was exported or another worker is exporting it now.
    Returns whether this call sent it; raises when the collector refused it."""
    now = timezone.now()
    if not Build.objects.filter(pk=build_id, state__in=FINISHED).exists():
        return False
    TraceExport.objects.get_or_create(build_id=build_id)
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    claimed = TraceExport.objects.filter(free, build_id=build_id, exported_at__isnull=True).update(
        claimed_until=now + CLAIM, attempts=F("attempts") + 1
    )
    if not claimed:
        return False
    build = Build.objects.select_related("connection", "project", "pipeline").get(pk=build_id)
    try:
        spans = export_build(build, endpoint)
    except Exception as exc:
        TraceExport.objects.filter(build_id=build_id).update(claimed_until=None, last_error=str(exc)[:1000])
        raise
    TraceExport.objects.filter(build_id=build_id).update(exported_at=timezone.now(), claimed_until=None, last_error="")
    log.info("exported the trace of build %s (%d spans)", build_id, spans)
    return True


@shared_task(name="dashboard.telemetry.export_build_traces", bind=True, max_retries=MAX_RETRIES)
def export_build_traces(self, build_ids: list[int]) -> int:
    """Export the traces of these finished builds; those the collector refused are tried
    again later with back-off."""
    endpoint = settings.OTEL_EXPORTER_OTLP_ENDPOINT
    if not endpoint:
        return 0
    sent, failed = 0, []
    for build_id in build_ids:
        try:
            sent += export_once(build_id, endpoint)
        except Exception as exc:
            log.warning("trace of build %s not exported: %s", build_id, exc)
            failed.append(build_id)
    if failed:
        raise self.retry(args=[failed], countdown=min(30 * 2**self.request.retries, 3600))
    return sent


def on_batch_applied(sender, connection=None, finished_build_ids=(), **kwargs) -> None:
    """``batch_applied`` receiver: queue the export of the builds that just finished."""
    if settings.OTEL_EXPORTER_OTLP_ENDPOINT and finished_build_ids:
        export_build_traces.delay(list(finished_build_ids))
