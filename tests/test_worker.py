"""A real Celery worker with beat, in its own process, on the configured broker (Redis in
CI, the filesystem transport otherwise) and database (PostgreSQL in CI), syncing from a
simulator over HTTP."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection as db

from dashboard.models import Build, Connection, SyncRun
from dashboard.sync import sync_connection
from providers.base.sim import Faults, Scale
from providers.semaphore.sim import SemaphoreSimulator

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    s = db.settings_dict
    if db.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def worker_env(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEY": settings.FIELD_ENCRYPTION_KEY,
        "SYNC_DISPATCH_EVERY": "1",
        "CELERY_QUEUE": f"test-{uuid.uuid4().hex[:8]}",
        "PYTHONUNBUFFERED": "1",
        "DASHBOARD_STATE_DIR": str(tmp_path / "state"),
    }
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        env["CELERY_BROKER_URL"] = "filesystem://localhost/"
    return env


def start_worker(env: dict, tmp_path: Path, concurrency: int = 1) -> subprocess.Popen:
    log = open(tmp_path / "worker.log", "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "dashboard",
            "worker",
            "-B",
            f"--concurrency={concurrency}",
            "--loglevel=INFO",
            "--schedule",
            str(tmp_path / "beat-schedule"),
            "-n",
            f"test-{uuid.uuid4().hex[:6]}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for(condition, timeout: float, what: str, worker: subprocess.Popen, tmp_path: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if worker.poll() is not None:
            break
        time.sleep(0.3)
    log = (tmp_path / "worker.log").read_text()[-3000:]
    pytest.fail(f"timed out waiting for {what}; worker log:\n{log}")


@pytest.fixture
def sim():
    simulator = SemaphoreSimulator("tok-worker", seed=3, scale=Scale(projects=2, builds=6, jobs=2, arrival_every=0))
    simulator.serve()
    yield simulator
    simulator.stop()


def test_beat_dispatches_a_sync_that_a_worker_runs_into_the_database(sim, worker_env, tmp_path):
    connection = Connection.objects.create(
        kind="semaphore", name="w", slug="w", base_url=sim.url, token=sim.token, sync_interval=3600
    )
    worker = start_worker(worker_env, tmp_path)
    try:
        run = wait_for(
            lambda: SyncRun.objects.filter(connection=connection).exclude(status="running").first(),
            90,
            "a finished sync",
            worker,
            tmp_path,
        )
    finally:
        stop(worker)
    assert run.status == SyncRun.Status.OK, run.error
    assert set(Build.objects.values_list("external_id", flat=True)) == set(sim.pipelines)
    assert run.requests > 0 and run.created >= len(sim.pipelines)


def test_a_sync_killed_midway_resumes_without_losing_or_doubling_rows(worker_env, tmp_path):
    # Slow answers, so the worker can be killed mid-sync.
    bigger = SemaphoreSimulator(
        "tok-worker", seed=5, scale=Scale(projects=2, builds=40, jobs=2, arrival_every=0), faults=Faults(latency=0.03)
    ).serve()
    try:
        connection = Connection.objects.create(
            kind="semaphore",
            name="k",
            slug="k",
            base_url=bigger.url,
            token=bigger.token,
            sync_interval=3600,
            options={"backfill_pages": 10},
        )
        worker_env["SYNC_LOCK_TTL"] = "2"
        worker = start_worker(worker_env, tmp_path)
        try:
            wait_for(
                lambda: Build.objects.filter(connection=connection).count() >= 35,
                120,
                "some committed builds",
                worker,
                tmp_path,
            )
        finally:
            stop(worker, signal.SIGKILL)
        connection.refresh_from_db()
        assert connection.lock_owner, "the dead worker's lease is still on the connection"
        held = Build.objects.filter(connection=connection).count()
        assert 0 < held < len(bigger.pipelines), "the kill must land mid-sync"
        connection.refresh_from_db()
        assert connection.sync_cursor, "the cursor of committed batches is stored"

        time.sleep(2.2)  # the dead worker's lease runs out
        bigger.faults = Faults()
        before = len(bigger.requests)
        run = sync_connection(connection.pk)

        assert run.status == SyncRun.Status.OK, run.error
        ids = list(Build.objects.filter(connection=connection).values_list("external_id", flat=True))
        assert len(ids) == len(set(ids)) == len(bigger.pipelines)
        assert set(ids) == set(bigger.pipelines)
        assert SyncRun.objects.filter(connection=connection, status=SyncRun.Status.INTERRUPTED).count() == 1
        described = [
            r
            for r in bigger.requests[before:]
            if r.path.startswith("/api/v1alpha/pipelines/") and not r.path.endswith("describe_topology")
        ]
        assert len(described) == len(bigger.pipelines) - held, "the resumed sync fetches only what was not committed"
    finally:
        bigger.stop()


def test_hung_providers_cannot_hold_every_worker_while_a_healthy_connection_waits(worker_env, tmp_path):
    """Three providers that never answer and one that does, on a worker with two slots:
    connections in trouble take one slot at most, so the healthy one keeps syncing."""
    hung = [
        SemaphoreSimulator(f"tok-hung-{i}", seed=i, faults=Faults(timeout_rate=1.0, timeout_seconds=60)).serve()
        for i in range(3)
    ]
    healthy = SemaphoreSimulator("tok-ok", seed=9, scale=Scale(projects=1, builds=2, jobs=1, arrival_every=0)).serve()
    try:
        for i, sim in enumerate(hung):
            Connection.objects.create(
                kind="semaphore", name=f"hung {i}", slug=f"hung-{i}", base_url=sim.url, token=sim.token, sync_interval=2
            )
        ok = Connection.objects.create(
            kind="semaphore", name="ok", slug="ok", base_url=healthy.url, token=healthy.token, sync_interval=2
        )
        worker_env.update({"PROVIDER_TIMEOUT": "3", "SYNC_TIME_LIMIT": "8", "SYNC_TROUBLED_SLOTS": "1"})
        worker = start_worker(worker_env, tmp_path, concurrency=2)
        try:
            # Every hung connection has been tried and found in trouble...
            wait_for(
                lambda: Connection.objects.filter(slug__startswith="hung", failures__gt=0).count() == 3,
                180,
                "the hung connections to fail once",
                worker,
                tmp_path,
            )
            # ...and from then on the healthy one keeps syncing.
            seen = Connection.objects.get(pk=ok.pk).sync_count
            wait_for(
                lambda: Connection.objects.get(pk=ok.pk, health="ok").sync_count >= seen + 3,
                120,
                "three more syncs of the healthy connection",
                worker,
                tmp_path,
            )
        finally:
            stop(worker)
        for connection in Connection.objects.filter(slug__startswith="hung"):
            assert connection.health == "unreachable", connection.last_error
    finally:
        for sim in [*hung, healthy]:
            sim.stop()


@pytest.mark.skipif(db.vendor != "postgresql", reason="a SQLite connection is a file handle, not a server process")
def test_a_worker_thread_keeps_its_database_connection_from_one_sync_to_the_next(sim, worker_env, tmp_path):
    """PostgreSQL starts a process for every new connection: a worker that opened one per
    task paid for it on every sync."""
    connection = Connection.objects.create(
        kind="semaphore", name="w", slug="w", base_url=sim.url, token=sim.token, sync_interval=1
    )

    worker_env["DATABASE_URL"] = f"{database_url()}?application_name=dashboard-test-worker"

    def worker_backends() -> list[int]:
        with db.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'dashboard-test-worker'"
            )
            return sorted(pid for (pid,) in cursor.fetchall())

    def syncs() -> int:
        return Connection.objects.get(pk=connection.pk).sync_count

    worker = start_worker(worker_env, tmp_path)  # one thread: dispatch and syncs take turns on it
    try:
        wait_for(lambda: syncs() >= 2, 90, "two syncs", worker, tmp_path)
        before, seen = worker_backends(), syncs()
        wait_for(lambda: syncs() >= seen + 3, 90, "three more syncs", worker, tmp_path)
        after = worker_backends()
    finally:
        stop(worker)
    assert len(before) == 1 and after == before
