"""First sync into an empty database and the quiet re-sync after it, per provider,
against its simulator running in a process of its own."""

from __future__ import annotations

import os
import time

from django.conf import settings

from dashboard.models import Build, Connection, Job
from dashboard.startup import settle
from dashboard.sync import sync_connection

from .common import Row, SimulatorProcess, database_cpu, machine_ticks, percentile, process_cpu

TOKEN = "bench-token"
# History per provider: (projects, builds per project, jobs per build) for a full run and
# for --quick. prunner's builds are its jobs, several tasks each; a jobs-platform run is
# one job.
SCALES = {
    "prunner": ((4, 600, 6), (2, 60, 6)),
    "harmont": ((4, 400, 6), (2, 40, 6)),
    "semaphore": ((4, 60, 6), (2, 8, 6)),
    "jobsplatform": ((6, 300, 2), (2, 30, 2)),
}


# What a live plugin waits for per view, per provider (seconds), for the comparison with our
# cached builds list that the bench command draws when both sections ran.
LIVE_SECONDS: dict[str, float] = {}
LIVE_REPEAT = 5


def figures(quick: bool) -> list[Row]:
    rows: list[Row] = []
    LIVE_SECONDS.clear()
    budget = settings.SYNC_REQUEST_BUDGET
    settings.SYNC_REQUEST_BUDGET = 1_000_000  # the first sync reads the whole history here
    try:
        for kind, scales in SCALES.items():
            rows += one_provider(kind, *scales[1 if quick else 0])
    finally:
        settings.SYNC_REQUEST_BUDGET = budget
    return rows


def one_provider(kind: str, projects: int, builds: int, jobs: int) -> list[Row]:
    scale = f"projects={projects},builds={builds},jobs={jobs},arrival_every=0"
    with SimulatorProcess(kind, TOKEN, seed=3, scale=scale) as sim:
        connection = Connection.objects.create(
            kind=kind,
            name=f"bench {kind}",
            slug=f"bench-sync-{kind}",
            base_url=sim.url,
            token=TOKEN,
            enabled=False,
            options={"backfill_pages": 10_000, "page_size": 100, **sim.options},
        )
        settle()  # what a worker loads once it is ready (dashboard/celery.py): not timed
        wall, cpu = time.perf_counter(), time.process_time()
        sim_cpu, db_cpu, machine = process_cpu(sim.process.pid), database_cpu(), machine_ticks()
        first = sync_connection(connection.pk)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        sim_cpu = process_cpu(sim.process.pid) - sim_cpu
        db_after = database_cpu()
        db_cpu = db_after - db_cpu if db_cpu is not None and db_after is not None else None
        busy, total = (after - before for after, before in zip(machine_ticks(), machine, strict=True))
        held_builds = Build.objects.filter(connection=connection).count()
        held_jobs = Job.objects.filter(connection=connection).count()
        quiet_wall = time.perf_counter()
        quiet = sync_connection(connection.pk)
        quiet_wall = time.perf_counter() - quiet_wall
        LIVE_SECONDS[kind] = live_listing(connection.pk)
    size = f"{held_builds:,} builds, {held_jobs:,} jobs"
    per_build = first.requests / max(held_builds, 1)
    # What each side's CPU alone allows: a sync is one process (one interpreter lock), so
    # the jobs it holds over its CPU seconds bound its speed whatever the machine has left.
    ceilings = f"ceilings from CPU alone: the sync {held_jobs / cpu:,.0f} jobs/s" if cpu > 0 else "ceilings: -"
    if sim_cpu > 0:
        ceilings += f", the simulator {held_jobs / sim_cpu:,.0f}"
    if db_cpu:
        ceilings += f", the database {held_jobs / db_cpu:,.0f}"
        # The three share this machine's cores: what all of them together leave possible.
        ceilings += f"; the machine {held_jobs * (os.cpu_count() or 1) / (cpu + sim_cpu + db_cpu):,.0f}"
    return [
        Row(
            f"first sync, {kind}",
            size,
            f"{held_jobs / wall:,.0f} jobs/s ({wall:.1f} s)",
            f"one sync_connection into an empty database, simulator in its own process; "
            f"{first.requests:,} requests ({per_build:.2f} per build, counting the logs of up to 50 jobs "
            f"that just finished), sync CPU {cpu:.1f} s, simulator CPU {sim_cpu:.1f} s, "
            f"{'' if db_cpu is None else f'database CPU {db_cpu:.1f} s, '}the machine's "
            f"{os.cpu_count()} cores {busy / total if total else float('nan'):.0%} busy ({ceilings}); status "
            f"{first.status}",
        ),
        Row(
            f"quiet re-sync, {kind}",
            size,
            f"{quiet_wall * 1000:.0f} ms",
            f"the next sync with nothing new: {quiet.requests} requests, {quiet.created + quiet.updated} rows written",
        ),
    ]


def live_listing(connection_id: int) -> float:
    """Median seconds of asking the provider for its newest builds of every project: what a
    quiet sync asks, and what a plugin that reads providers live asks on every page view."""
    seconds = []
    for _ in range(LIVE_REPEAT):
        start = time.perf_counter()
        sync_connection(connection_id)
        seconds.append(time.perf_counter() - start)
    return percentile(seconds, 0.5)


def live_row(page_seconds: float) -> Row | None:
    """Our builds list (from the database) against the same first page fetched live from
    every provider, one after another and all at once."""
    if not LIVE_SECONDS or page_seconds <= 0:
        return None
    sequential, parallel = sum(LIVE_SECONDS.values()), max(LIVE_SECONDS.values())
    each = ", ".join(f"{kind} {s * 1000:.0f} ms" for kind, s in LIVE_SECONDS.items())
    return Row(
        "builds list vs the same page fetched live",
        f"{len(LIVE_SECONDS)} simulators at 0 ms network",
        f"{sequential / page_seconds:.0f}x faster than live one after another, {parallel / page_seconds:.0f}x than "
        f"all at once",
        f"live: median of {LIVE_REPEAT} rounds of each provider's newest-builds listing (a quiet sync's requests; "
        f"{each}); ours: the builds list's first page p50 above",
    )
