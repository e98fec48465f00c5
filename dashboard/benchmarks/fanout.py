"""Many connections on a few simulators, dispatched by beat and synced by 1, then 2
Celery worker processes (thread pools) on Redis and PostgreSQL: how late syncs start
after falling due, and how many run per minute.

Each connection falls due every ``interval`` seconds, their due times spread over one
interval from when the first worker is ready: setting a thousand connections up takes
longer than the warm-up, and due times counted from before it left a backlog that the
window measured instead of the steady state. The simulators answer after a short added
latency, as a provider across a network would. The lag of each sync (due -> started) is
read from the connection rows (``last_sync_lag``) by polling them more often than any
connection syncs.

On a machine whose cores the workers, simulators and database share, a second worker
adds what the cores have left, not a worker's worth. The last row therefore measures
where the cores are not the limit: each worker held to a few slots and the
provider slow to answer, so a sync waits rather than computes and a worker's throughput
is its slots over a sync's duration. A second worker doubles it only if nothing the
workers share (beat's dispatch, the queue, the leases, the database) holds them back."""

from __future__ import annotations

import math
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from celery import Celery
from django.conf import settings
from django.db import connection as db
from django.db import models
from django.utils import timezone

from dashboard.models import Build, Connection, Job, Pipeline, Project
from dashboard.sync import sync_connection

from .common import (
    Row,
    SimulatorProcess,
    machine_ticks,
    percentile,
    process_cpu,
    start_celery,
    start_worker,
    stop_process,
)

TOKEN = "bench-fanout"
SIMULATORS = 4
LATENCY = 0.05  # seconds each simulator answer takes, besides its own work
THREADS = 16
# Where slots, not cores, are the limit: each worker's slots, the provider's added latency
# (seconds), and the connections made due at once (synced once each, never otherwise due).
SCALING_SLOTS = 4
SCALING_LATENCY = 0.5
SCALING_CONNECTIONS = 300
SCALING_INTERVAL = 3600


def figures(connections: int = 1000, interval: int = 60, warmup: float = 20, window: float = 60) -> list[Row]:
    if db.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis"):
        return [Row("fan-out", "", "skipped", "needs PostgreSQL (DATABASE_URL) and Redis (CELERY_BROKER_URL)")]
    from dashboard.celery import app

    sims = simulators(LATENCY)
    workers: list[subprocess.Popen] = []
    beat = None
    scratch = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    try:
        make_connections(connections, interval, [s.url for s in sims])
        app.control.purge()
        workers.append(start_worker(1, scratch, THREADS))
        wait_until_ready(app, 1)
        spread(connections, interval)  # from now; beat dispatches nothing before this
        beat = start_celery(["beat", "--schedule", str(scratch / "beat-schedule")], scratch / "beat.log")
        watch(warmup)
        one = measure(window)
        one_burst = burst(connections, interval, workers, [s.process.pid for s in sims])
        workers.append(start_worker(2, scratch, THREADS))
        wait_until_ready(app, 2)
        watch(10)  # the second worker settles in
        two = measure(window)
        two_burst = burst(connections, interval, workers, [s.process.pid for s in sims])
        scaling = slot_scaling(app, scratch, workers)
    finally:
        for process in [*workers, beat]:
            if process is not None:
                stop_process(process)
        for sim in sims:
            sim.stop()
        app.control.purge()
    size = f"{connections:,} connections every {interval} s on {SIMULATORS} simulators"
    method = (
        f"beat + Celery worker processes (--pool threads --concurrency {THREADS}) on Redis and PostgreSQL, "
        f"simulator answers +{LATENCY * 1000:.0f} ms; lag = sync start - due time, every sync in a "
        f"{window:.0f} s window after a {warmup:.0f} s warm-up"
    )
    rows = []
    for label, (lags, per_minute), capacity in (("1 worker", one, one_burst), ("2 workers", two, two_burst)):
        rows.append(
            Row(
                f"fan-out, {label}",
                size,
                f"{per_minute:,.0f} syncs/min; lag p50 {percentile(lags, 0.5):.1f} s, "
                f"p95 {percentile(lags, 0.95):.1f} s",
                f"{method}; {len(lags)} syncs seen (demand {connections * 60 / interval:,.0f}/min)",
            )
        )
        rows.append(
            Row(
                f"fan-out capacity, {label}",
                f"{connections:,} connections due at once",
                f"{capacity.per_minute:,.0f} syncs/min",
                "every connection made due at the same moment; syncs per minute until each has synced once "
                f"(at most {BURST_LIMIT:.0f} s){capacity.words()}",
            )
        )
    rows.append(scaling_row(*scaling))
    return rows


def slot_scaling(app: Celery, scratch: Path, workers: list[subprocess.Popen]) -> tuple[Burst, Burst]:
    """The capacity of 1, then 2 workers of ``SCALING_SLOTS`` slots each on connections of
    their own to slow simulators (the fan-out's connections disabled meanwhile)."""
    for worker in workers:
        stop_process(worker)
    workers.clear()
    Connection.objects.update(enabled=False)
    sims = simulators(SCALING_LATENCY)
    pids = [s.process.pid for s in sims]
    try:
        make_connections(SCALING_CONNECTIONS, SCALING_INTERVAL, [s.url for s in sims], prefix="scaling")
        app.control.purge()
        bursts = []
        for n in (1, 2):
            workers.append(start_worker(10 + n, scratch, SCALING_SLOTS))
            wait_until_ready(app, n)
            bursts.append(burst(SCALING_CONNECTIONS, SCALING_INTERVAL, workers, pids))
        return bursts[0], bursts[1]
    finally:
        for sim in sims:
            sim.stop()


def scaling_row(one: Burst, two: Burst) -> Row:
    ratio = two.per_minute / one.per_minute if one.per_minute else float("nan")
    method = (
        f"each worker --pool threads --concurrency {SCALING_SLOTS}, simulator answers "
        f"+{SCALING_LATENCY * 1000:.0f} ms, so a sync waits rather than computes; syncs per minute "
        f"until each connection has synced once (at most {BURST_LIMIT:.0f} s); the machine's "
        f"{os.cpu_count()} cores {one.machine_busy:.0%} and {two.machine_busy:.0%} busy"
    )
    return Row(
        "fan-out scaling, slots the limit",
        f"{SCALING_CONNECTIONS} connections due at once",
        f"1 worker {one.per_minute:,.0f} syncs/min, 2 workers {two.per_minute:,.0f} ({ratio:.2f}x)",
        method,
    )


def simulators(latency: float) -> list[SimulatorProcess]:
    """The connections' simulators, each answering ``latency`` seconds late."""
    return [
        SimulatorProcess("prunner", TOKEN, seed=i, scale="builds=2,jobs=2,arrival_every=0", faults=f"latency={latency}")
        for i in range(SIMULATORS)
    ]


BURST_LIMIT = 90.0


@dataclass
class Burst:
    per_minute: float
    worker_cpu_per_sync: float  # seconds of worker-process CPU per sync
    machine_busy: float  # share of all the machine's cores busy meanwhile (0..1), or nan
    simulator_cpu_per_sync: float = 0.0  # seconds of the simulators' CPU per sync
    machine_cpu_per_sync: float = float("nan")  # seconds of every core's busy time per sync

    def words(self) -> str:
        if math.isnan(self.machine_busy):
            return ""
        rest = self.machine_cpu_per_sync - self.worker_cpu_per_sync - self.simulator_cpu_per_sync
        ceiling = (os.cpu_count() or 1) * 60 / self.machine_cpu_per_sync if self.machine_cpu_per_sync > 0 else 0
        return (
            f"; CPU per sync: worker {self.worker_cpu_per_sync * 1000:.0f} ms, simulators "
            f"{self.simulator_cpu_per_sync * 1000:.0f} ms, the rest (PostgreSQL, Redis, beat, the bench) "
            f"{rest * 1000:.0f} ms; the machine's {os.cpu_count()} cores {self.machine_busy:.0%} busy meanwhile: "
            f"at that cost this machine's cores could do about {ceiling:,.0f} syncs/min, however many workers"
        )


def burst(connections: int, interval: int, workers: list[subprocess.Popen], simulators: list[int]) -> Burst:
    """Syncs per minute while a backlog of every connection drains: what the workers can
    do, rather than what the schedule asks of them, with what it cost in CPU (to tell a
    limit of the code from a limit of the machine). The due times are spread again after."""
    start_count = sum(count for count, _ in snapshot().values())
    cpu_before, machine_before = sum(process_cpu(w.pid) for w in workers), machine_ticks()
    sim_before = sum(process_cpu(pid) for pid in simulators)
    Connection.objects.update(next_sync_at=timezone.now())
    start_at = time.monotonic()
    done = 0
    while time.monotonic() - start_at < BURST_LIMIT and done < connections:
        time.sleep(0.5)
        done = sum(count for count, _ in snapshot().values()) - start_count
    elapsed = time.monotonic() - start_at
    cpu = sum(process_cpu(w.pid) for w in workers) - cpu_before
    sim_cpu = sum(process_cpu(pid) for pid in simulators) - sim_before
    busy, total = (after - before for after, before in zip(machine_ticks(), machine_before, strict=True))
    spread(connections, interval)
    synced = max(done, 1)
    return Burst(
        done * 60 / elapsed,
        cpu / synced,
        busy / total if total else float("nan"),
        sim_cpu / synced,
        busy / os.sysconf("SC_CLK_TCK") / synced,
    )


def spread(connections: int, interval: int) -> None:
    """Every connection's next due time spread evenly over the next ``interval`` seconds."""
    with db.cursor() as cursor:
        cursor.execute(
            "UPDATE dashboard_connection SET next_sync_at = now() + make_interval(secs => mod(id, %s) * %s / %s)",
            [connections, interval, connections],
        )


def wait_until_ready(app: Celery, workers: int, limit: float = 60) -> None:
    """Until ``workers`` worker processes answer a ping (they have booted and consume)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and len(app.control.ping(timeout=1.0) or []) < workers:
        time.sleep(0.5)


def make_connections(count: int, interval: int, urls: list[str], prefix: str = "fanout") -> None:
    """``count`` connections spread over the simulators, in the state their first sync
    leaves them in: one per simulator is synced for real, and its rows are copied to the
    others on the same simulator (a first sync also fetches logs and fills rollups; the
    steady state is what the window measures)."""
    now = timezone.now()
    Connection.objects.bulk_create(
        [
            Connection(
                kind="prunner",
                name=f"{prefix} {i}",
                slug=f"{prefix}-{i}",
                base_url=urls[i % len(urls)],
                token=TOKEN,
                sync_interval=interval,
                next_sync_at=now + timedelta(seconds=interval * i / count),
            )
            for i in range(count)
        ],
        batch_size=500,
    )
    for url in urls:
        seed = Connection.objects.filter(base_url=url).order_by("pk").first()
        sync_connection(seed.pk)
        seed.refresh_from_db()
        for model in (Project, Pipeline, Build, Job):
            copy_rows(model, seed, url)
        Connection.objects.filter(base_url=url).exclude(pk=seed.pk).update(
            sync_cursor=seed.sync_cursor, sync_count=1, health=seed.health
        )
        Connection.objects.filter(pk=seed.pk).update(next_sync_at=now)


def copy_rows(model: type[models.Model], seed: Connection, url: str) -> None:
    """The seed connection's rows of ``model``, copied to every other connection on
    ``url``, references to parents resolved by external id within the copy's connection."""
    quote = db.ops.quote_name
    table = quote(model._meta.db_table)
    names, values = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        names.append(quote(field.column))
        if field.attname == "connection_id":
            values.append("c.id")
        elif field.is_relation and field.related_model in (Project, Pipeline, Build):
            parent = quote(field.related_model._meta.db_table)
            column = quote(field.column)
            values.append(
                f"(SELECT n.id FROM {parent} n JOIN {parent} o ON o.external_id = n.external_id "
                f"WHERE o.id = r.{column} AND n.connection_id = c.id)"
            )
        else:
            values.append(f"r.{quote(field.column)}")
    with db.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(values)} FROM {table} r "
            "JOIN dashboard_connection c ON c.base_url = %s AND c.id <> %s WHERE r.connection_id = %s",
            [url, seed.pk, seed.pk],
        )


def snapshot() -> dict[int, tuple[int, float | None]]:
    return {pk: (count, lag) for pk, count, lag in Connection.objects.values_list("pk", "sync_count", "last_sync_lag")}


def watch(seconds: float) -> None:
    time.sleep(seconds)


def measure(seconds: float, every: float = 2.0) -> tuple[list[float], float]:
    """Lags of the syncs that started in the next ``seconds``, and syncs per minute."""
    lags: list[float] = []
    done = 0
    before = snapshot()
    start_at = time.monotonic()
    while time.monotonic() - start_at < seconds:
        time.sleep(every)
        now = snapshot()
        for pk, (count, lag) in now.items():
            previous = before.get(pk, (0, None))[0]
            if count > previous:
                done += count - previous
                if lag is not None:
                    lags.append(lag)
        before = now
    return lags, done * 60 / (time.monotonic() - start_at)
