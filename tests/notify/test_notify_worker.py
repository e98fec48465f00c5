"""Exactly once, with real Celery workers (beat inside) syncing a jobs platform simulator
and sending through Apprise to a webhook on loopback: a break is seen by the worker's
syncs, by overlapping syncs in this process and by two more reports of the same build;
the webhook refuses the first tries, the worker is killed while the send waits for its
retry, and another worker takes over. One "broke" message arrives, then one
"recovered"."""

import signal
import threading

import pytest
from django.db import connections

from dashboard.models import Delivery
from dashboard.notify import events
from dashboard.sync import sync_connection
from tests.test_worker import start_worker, stop, wait_for

from .conftest import finish_run, make_rule, pipeline_of, stored

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def overlapping_syncs(connection, build) -> None:
    """Two syncs at once in this process, each also reporting ``build`` as just finished
    (as a sync that lost its lease and the one that took over both would)."""

    def one() -> None:
        try:
            sync_connection(connection.pk)
            events.on_batch_applied(
                None, connection=connection, changed_build_ids=[build.pk], finished_build_ids=[build.pk]
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def syncs(connection) -> int:
    """Finished syncs, quiet ones included (those keep no SyncRun row)."""
    connection.refresh_from_db()
    return connection.sync_count


def test_a_break_and_its_recovery_arrive_once_each_through_overlaps_and_a_restart(
    jp, jp_sim, receiver, worker_env, tmp_path
):
    worker_env.update(
        SYNC_LOCK_TTL="3",
        NOTIFY_RETRY_BACKOFF="1",
        NOTIFY_SWEEP_EVERY="1",
        NOTIFY_STALLED_AFTER="1",
        DASHBOARD_URL="https://ci.example.com",
    )
    sync_connection(jp.pk)
    finish_run(jp_sim, "db-migrate", passes=True)
    sync_connection(jp.pk)
    make_rule(receiver.url(), pipeline=pipeline_of(jp_sim, "db-migrate"))

    receiver.refuse = -1  # the webhook is down at first
    broken = finish_run(jp_sim, "db-migrate", passes=False)
    first = start_worker(worker_env, tmp_path)
    try:
        delivery = wait_for(lambda: Delivery.objects.first(), 120, "the break recorded", first, tmp_path)
        overlapping_syncs(jp, stored(jp_sim, broken))
        wait_for(
            lambda: Delivery.objects.filter(attempts__gte=2, status="retrying").exists(),
            120,
            "retries",
            first,
            tmp_path,
        )
    finally:
        stop(first, signal.SIGKILL)  # killed while the send waits for its next try

    receiver.refuse = 0
    second = start_worker(worker_env, tmp_path)
    try:
        wait_for(lambda: receiver.messages, 120, "the message", second, tmp_path)
        seen = syncs(jp)
        wait_for(lambda: syncs(jp) >= seen + 3, 120, "three more syncs", second, tmp_path)
        assert [m["title"] for m in receiver.messages] == ["✗ db-migrate broke"]

        fixed = finish_run(jp_sim, "db-migrate", passes=True)
        wait_for(lambda: len(receiver.messages) >= 2, 120, "the recovery", second, tmp_path)
        overlapping_syncs(jp, stored(jp_sim, fixed))
        seen = syncs(jp)
        wait_for(lambda: syncs(jp) >= seen + 3, 120, "three more syncs", second, tmp_path)
    finally:
        stop(second)

    assert [m["title"] for m in receiver.messages] == ["✗ db-migrate broke", "✓ db-migrate recovered"]
    assert len(receiver.refused) >= 2
    assert Delivery.objects.count() == 2
    delivery.refresh_from_db()
    assert delivery.status == "sent" and delivery.attempts >= 3
    assert "https://ci.example.com/jobsplatform/jp/build/" in receiver.messages[0]["message"]
