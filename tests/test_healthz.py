"""``/healthz``: database, broker and beat, with 503 naming what failed."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from dashboard.ops.models import Heartbeat
from dashboard.tasks import dispatch_due_syncs


def health(client, **params):
    response = client.get("/healthz", params)
    return response.status_code, response.json()


def test_before_beat_ever_dispatched_it_says_so(client, db):
    status, body = health(client)
    assert status == 503
    assert body["failed"] == ["beat"]
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]
    assert "beat has not dispatched" in body["checks"]["beat"]["error"]


def test_healthy_once_beat_dispatches(client, db):
    dispatch_due_syncs()
    status, body = health(client)
    assert status == 200 and body["status"] == "ok" and body["failed"] == []


def test_a_stale_beat_fails_the_check(client, db):
    dispatch_due_syncs()
    Heartbeat.objects.update(at=timezone.now() - timedelta(minutes=30))
    status, body = health(client)
    assert status == 503 and body["failed"] == ["beat"]
    assert "30\xa0minutes ago" in body["checks"]["beat"]["error"]


def test_a_subset_of_checks_for_load_balancers(client, db):
    status, body = health(client, checks="database,broker")
    assert status == 200 and set(body["checks"]) == {"database", "broker"}
    status, body = health(client, checks="database,disk")
    assert status == 400 and "disk" in body["error"]


def test_an_unreachable_broker_fails_the_check(client, db, monkeypatch):
    from dashboard.celery import app

    # Nothing listens on port 1 of this machine. (Celery prefers the CELERY_BROKER_URL
    # variable to its settings, but not for the write URL that the check connects to.)
    monkeypatch.setitem(app.conf, "broker_write_url", "redis://127.0.0.1:1/0")
    monkeypatch.setitem(app.conf, "broker_transport_options", {})
    status, body = health(client, checks="database,broker")
    assert status == 503 and body["failed"] == ["broker"]
    assert body["checks"]["broker"]["error"]


def test_probes_may_call_by_ip_address(client, db):
    response = client.get("/healthz", {"checks": "database"}, HTTP_HOST="10.0.0.7:8000")
    assert response.status_code == 200


def test_the_command_checks_from_a_shell(db, capsys):
    call_command("healthcheck", "--checks", "database")
    assert '"database": {"ok": true' in capsys.readouterr().out
    with pytest.raises(CommandError, match="beat"):
        call_command("healthcheck", "--checks", "beat")
