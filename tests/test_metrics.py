"""``/metrics``: Prometheus text that prometheus_client's own parser reads, with request
and database metrics, the dashboard's sync metrics per connection, and access limited to
a bearer token or this machine."""

import uuid

import pytest
from django.conf import settings
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from dashboard.models import Connection, SyncRun
from dashboard.ops.metrics import totals_after
from dashboard.signals import sync_started
from dashboard.sync import sync_connection
from providers.base.sim import Faults

from .conftest import make_connection


def scrape(client, **headers) -> dict:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {family.name: family for family in text_string_to_metric_families(response.content.decode())}


def value(families: dict, family: str, sample: str, **labels) -> float:
    found = [
        s.value
        for s in families[family].samples
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) == 1, (family, sample, labels, families[family].samples)
    return found[0]


def test_a_sync_shows_in_the_metrics(client, semaphore):
    run = sync_connection(semaphore.pk)
    client.get(reverse("login"))
    families = scrape(client)

    assert value(families, "ci_syncs", "ci_syncs_total", connection="acme", status="ok") == 1
    assert value(families, "ci_sync_failures", "ci_sync_failures_total", connection="acme") == 0
    assert value(families, "ci_provider_requests", "ci_provider_requests_total", connection="acme") == run.requests
    assert value(families, "ci_sync_duration_seconds", "ci_sync_duration_seconds_count", connection="acme") == 1
    assert value(families, "ci_sync_duration_seconds", "ci_sync_duration_seconds_sum", connection="acme") == (
        pytest.approx(run.duration)
    )
    assert value(families, "ci_connection_up", "ci_connection_up", connection="acme", provider="semaphore") == 1
    assert value(families, "ci_connection_last_sync_timestamp_seconds", "ci_connection_last_sync_timestamp_seconds")
    # django-prometheus: requests and database.
    assert "django_http_requests_total_by_method" in families
    assert any(name.startswith("django_db_") for name in families)


def test_rate_limited_and_failed_syncs_are_counted(client, semaphore_sim, db):
    connection = make_connection(semaphore_sim)
    semaphore_sim.faults = Faults(rate_limit_rate=1.0, retry_after=600)
    run = sync_connection(connection.pk)
    assert run.status == SyncRun.Status.FAILED

    families = scrape(client)
    assert value(families, "ci_provider_rate_limited", "ci_provider_rate_limited_total", connection="acme") == 1
    assert value(families, "ci_sync_failures", "ci_sync_failures_total", connection="acme") == 1
    assert value(families, "ci_syncs", "ci_syncs_total", connection="acme", status="failed") == 1
    assert value(families, "ci_connection_up", "ci_connection_up", connection="acme") == 0


def test_lease_losses_are_counted(client, semaphore, settings):
    def another_worker_takes_over(sender, connection, **kwargs):
        Connection.objects.filter(pk=connection.pk).update(lock_owner="another-worker")

    settings.SYNC_LOCK_TTL = 0  # renewed before every request: the takeover is noticed at once
    sync_started.connect(another_worker_takes_over, dispatch_uid="test-takeover")
    try:
        run = sync_connection(semaphore.pk)
    finally:
        sync_started.disconnect(dispatch_uid="test-takeover")
    assert "lease ran out" in run.error
    families = scrape(client)
    assert value(families, "ci_sync_lease_losses", "ci_sync_lease_losses_total", connection="acme") == 1
    assert value(families, "ci_syncs", "ci_syncs_total", connection="acme", status="failed") == 1


def test_a_sync_beyond_the_largest_bucket_is_counted_in_inf_only(client, semaphore):
    Connection.objects.filter(pk=semaphore.pk).update(
        **totals_after(semaphore, SyncRun(status=SyncRun.Status.OK, duration=700.0, requests=3))
    )
    families = scrape(client)
    assert value(families, "ci_sync_duration_seconds", "ci_sync_duration_seconds_bucket", le="600.0") == 0
    assert value(families, "ci_sync_duration_seconds", "ci_sync_duration_seconds_bucket", le="+Inf") == 1
    assert value(families, "ci_provider_requests", "ci_provider_requests_total", connection="acme") == 3


def test_a_token_guards_the_metrics(client, db, settings):
    settings.METRICS_TOKEN = "scrape-token-42"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    scrape(client, HTTP_AUTHORIZATION="Bearer scrape-token-42")


def test_without_a_token_only_this_machine_may_scrape(client, db, settings):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403 and b"METRICS_TOKEN" in response.content
    scrape(client, REMOTE_ADDR="::1")


def test_scrapers_may_call_by_ip_address(client, db):
    # ALLOWED_HOSTS would refuse this Host header on any page.
    assert client.get("/", HTTP_HOST="10.20.30.40:8000").status_code == 400
    scrape(client, HTTP_HOST="10.20.30.40:8000")


@pytest.mark.skipif(not settings.CELERY_BROKER_URL.startswith("redis"), reason="queue depth is counted on Redis only")
def test_the_queue_depth_of_a_redis_broker(client, db, settings):
    from dashboard.celery import app

    queue = f"test-depth-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    for _ in range(3):
        app.send_task("dashboard.tasks.dispatch_due_syncs", queue=queue)
    try:
        families = scrape(client)
        assert value(families, "ci_queue_depth", "ci_queue_depth", queue=queue) == 3
    finally:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(queue)
