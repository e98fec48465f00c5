"""Prometheus metrics at ``/metrics``: django-prometheus's (requests, responses, database)
and the dashboard's own, read from the database when scraped, because syncs run in the
workers while the web process answers the scrape:

- ``ci_syncs_total``, ``ci_sync_failures_total``, ``ci_sync_duration_seconds`` (histogram),
  ``ci_provider_requests_total``, ``ci_provider_rate_limited_total`` and
  ``ci_sync_lease_losses_total``, per connection (totals kept on the connection by ``totals_after``);
- ``ci_connection_up`` and ``ci_connection_last_sync_timestamp_seconds`` per connection;
- ``ci_queue_depth``: tasks waiting in the broker (Redis only; the filesystem broker of the
  embedded default has no cheap count)."""

from __future__ import annotations

import bisect
import hmac
import ipaddress
import logging
import os
from collections.abc import Iterator

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from dashboard.models import Connection, Health, SyncRun

log = logging.getLogger(__name__)

DURATION_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
TOTALS = [name for name in Connection.SYNC_WRITTEN if name.startswith("sync_")]
# What the sync engine writes into a SyncRun's error when its lease ran out mid-sync.
LEASE_LOST = "lease ran out"
RATE_LIMITED = "Rate limited"


# Counting, in the worker ---------------------------------------------------------------
def totals_after(connection: Connection, run: SyncRun) -> dict[str, object]:
    """The connection's sync totals with ``run`` counted, to be written with the sync's own
    bookkeeping in one statement. ``connection`` was read after its lease was taken, and
    only the lease holder counts, so adding to what it read loses nothing."""
    error = run.error or ""
    # A SyncRun that counts the provider's 429 answers is used when it has one; otherwise
    # a sync that ended rate-limited counts once.
    rate_limited = getattr(run, "rate_limited", None)
    if rate_limited is None:
        rate_limited = int(error.startswith(RATE_LIMITED))
    duration = run.duration or 0.0
    buckets = list(connection.sync_duration_buckets or [])
    buckets += [0] * (len(DURATION_BUCKETS) + 1 - len(buckets))
    buckets[bisect.bisect_left(DURATION_BUCKETS, duration)] += 1
    return {
        "sync_count": connection.sync_count + 1,
        "sync_requests": connection.sync_requests + (run.requests or 0),
        "sync_failures": connection.sync_failures + int(run.status == SyncRun.Status.FAILED),
        "sync_partials": connection.sync_partials + int(run.status == SyncRun.Status.PARTIAL),
        "sync_rate_limited": connection.sync_rate_limited + rate_limited,
        "sync_lease_losses": connection.sync_lease_losses + int(LEASE_LOST in error),
        "sync_seconds": connection.sync_seconds + duration,
        "sync_duration_buckets": buckets,
    }


# Reading, in the web process -----------------------------------------------------------
def queue_depth() -> int | None:
    """Tasks waiting in the broker's default queue, or None where it cannot be counted."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return None
    import redis

    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    # kombu keeps one Redis list per priority step: "<queue>" and "<queue>\x06\x16<step>".
    names = [queue] + [f"{queue}\x06\x16{step}" for step in (3, 6, 9)]
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        with client.pipeline() as pipe:
            for name in names:
                pipe.llen(name)
            return sum(pipe.execute())
    finally:
        client.close()


class DashboardCollector(Collector):
    """The dashboard's metrics, computed from the database at each scrape."""

    def collect(self) -> Iterator[Metric]:
        # A database or broker outage must not break the scrape: the request metrics still
        # answer, ci_metrics_errors says what was left out, and /healthz says why.
        errors = GaugeMetricFamily("ci_metrics_errors", "Parts of this scrape that could not be read.", labels=["part"])
        try:
            yield from self.from_database()
            errors.add_metric(["database"], 0)
        except DatabaseError as exc:
            log.warning("sync metrics unavailable: %s", exc)
            errors.add_metric(["database"], 1)
        try:
            depth = queue_depth()
            errors.add_metric(["broker"], 0)
        except Exception as exc:
            log.warning("queue depth unavailable: %s", exc)
            depth = None
            errors.add_metric(["broker"], 1)
        if depth is not None:
            queue = GaugeMetricFamily("ci_queue_depth", "Tasks waiting in the broker.", labels=["queue"])
            queue.add_metric([settings.CELERY_TASK_DEFAULT_QUEUE], depth)
            yield queue
        yield errors

    def from_database(self) -> list[Metric]:
        labels = ["connection", "provider"]
        syncs = CounterMetricFamily("ci_syncs", "Syncs finished, by outcome.", labels=[*labels, "status"])
        failures = CounterMetricFamily("ci_sync_failures", "Syncs that failed.", labels=labels)
        requests = CounterMetricFamily(
            "ci_provider_requests", "HTTP requests syncs made to the provider.", labels=labels
        )
        limited = CounterMetricFamily(
            "ci_provider_rate_limited", "Rate-limit (429) answers syncs got from the provider.", labels=labels
        )
        leases = CounterMetricFamily(
            "ci_sync_lease_losses", "Syncs that lost their connection's lease to another worker.", labels=labels
        )
        durations = HistogramMetricFamily("ci_sync_duration_seconds", "How long syncs took.", labels=labels)
        up = GaugeMetricFamily("ci_connection_up", "1 when the connection's last sync was healthy.", labels=labels)
        last = GaugeMetricFamily(
            "ci_connection_last_sync_timestamp_seconds", "When the connection last synced (Unix time).", labels=labels
        )
        for c in Connection.objects.only("pk", "slug", "kind", "health", "last_synced_at", *TOTALS):
            values = [c.slug, c.kind]
            up.add_metric(values, 1.0 if c.health == Health.OK else 0.0)
            if c.last_synced_at:
                last.add_metric(values, c.last_synced_at.timestamp())
            if not c.sync_count:
                continue
            ok = c.sync_count - c.sync_failures - c.sync_partials
            for status, count in (("ok", ok), ("partial", c.sync_partials), ("failed", c.sync_failures)):
                syncs.add_metric([*values, status], count)
            failures.add_metric(values, c.sync_failures)
            requests.add_metric(values, c.sync_requests)
            limited.add_metric(values, c.sync_rate_limited)
            leases.add_metric(values, c.sync_lease_losses)
            per_bucket = list(c.sync_duration_buckets or []) + [0] * (len(DURATION_BUCKETS) + 1)
            cumulative, running = [], 0
            for bound, count in zip((*DURATION_BUCKETS, float("inf")), per_bucket, strict=False):
                running += count
                cumulative.append(("+Inf" if bound == float("inf") else str(bound), running))
            durations.add_metric(values, cumulative, c.sync_seconds)
        return [syncs, failures, requests, limited, leases, durations, up, last]


_own = CollectorRegistry(auto_describe=False)
_own.register(DashboardCollector())


def metrics_text() -> bytes:
    """The exposition text: the process's (or, under gunicorn with PROMETHEUS_MULTIPROC_DIR,
    every worker process's) request and database metrics, then the dashboard's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(_own)


# Access --------------------------------------------------------------------------------
def _from_loopback(request: HttpRequest) -> bool:
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def allowed(request: HttpRequest) -> tuple[bool, int]:
    """With ``METRICS_TOKEN`` set, a matching ``Authorization: Bearer`` header is needed;
    without it, only requests from this machine (a sidecar or a local Prometheus) get in."""
    token = settings.METRICS_TOKEN
    if not token:
        return _from_loopback(request), 403
    scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()), 401


def metrics_view(request: HttpRequest) -> HttpResponse:
    ok, status = allowed(request)
    if not ok:
        response = HttpResponse(
            "Set METRICS_TOKEN and send it as a bearer token, or scrape from this machine.\n",
            status=status,
            content_type="text/plain; charset=utf-8",
        )
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
