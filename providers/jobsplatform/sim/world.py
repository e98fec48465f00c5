"""The simulated workspace (docs/providers/jobsplatform.md, "Simulator"): projects, job
definitions and runs whose state, log lines and resource usage follow from the clock.

A run is planned once when it is created (queue delay, duration, outcome, log lines and
usage come from the seed and the run's id), so what it shows at any moment is a pure
function of the time and of a cancel, if any."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from .. import contract as c

PROJECT_NAMES = ["data", "ops", "billing", "search", "mobile", "web"]


@dataclass(frozen=True)
class Template:
    name: str
    image: str
    command: str
    schedule: str | None
    tags: tuple[str, ...]
    seconds: tuple[float, float]  # how long a run takes
    lines: tuple[str, ...]
    history: float  # seconds of history before the simulator starts (for cron jobs: the span)


TEMPLATES = [
    Template(
        "heartbeat",
        "busybox:1.36",
        "sh -c 'wget -qO- http://api.internal/health'",
        "* * * * *",
        ("monitoring",),
        (2, 6),
        ("GET /health -> 200 in {ms}ms", "upstream db ok ({ms}ms)", "queue depth {n}"),
        0,  # filled from Scale.builds: one run a minute
    ),
    Template(
        "nightly-report",
        "python:3.12-slim",
        "python -m reports.nightly",
        "0 3 * * *",
        ("reports",),
        (10, 40),
        ("loaded {n} rows from warehouse", "rendered section {n}", "uploaded report part {n} ({ms} KiB)"),
        3 * 86400,
    ),
    Template(
        "db-migrate",
        "ghcr.io/acme/api:1.4.2",
        "./manage.py migrate --noinput",
        None,
        ("ops", "database"),
        (5, 25),
        ("Applying app_{n}... OK", "checked {n} tables", "lock acquired after {ms}ms"),
        0,
    ),
    Template(
        "backfill-events",
        "ghcr.io/acme/etl:2.0",
        "etl backfill --days 7",
        None,
        ("data",),
        (8, 35),
        ("processed batch {n} ({ms} events)", "checkpoint {n} written", "partition {n} done"),
        0,
    ),
    Template(
        "cache-warmer",
        "node:22-alpine",
        "node warm.js",
        "*/15 * * * *",
        ("perf",),
        (3, 12),
        ("warmed {n} keys in {ms}ms", "hit ratio 0.{n}"),
        0,
    ),
]
WARNINGS = ("WARN: slow response from upstream ({ms}ms)", "WARN: retrying connection (attempt {n})")
FAILURES = (
    (1, "ERROR: connection refused by db.internal:5432"),
    (2, "ERROR: invalid configuration: missing REPORT_BUCKET"),
    (137, "ERROR: container exceeded its memory limit (OOMKilled)"),
)


@dataclass
class Project:
    id: str
    name: str
    index: int


@dataclass
class JobDef:
    id: str
    project_id: str
    name: str
    image: str
    command: str
    schedule: str | None
    tags: list[str]
    env_vars: dict[str, str]
    created: float
    updated: float
    seconds: tuple[float, float] = (5, 30)
    lines: tuple[str, ...] = ("step {n} done",)
    next_fire: float | None = None
    runs: list[str] = field(default_factory=list)
    seq: int = 0
    # Seeded on-demand jobs get manual runs from "other people" from this time on.
    arrivals_from: float | None = None
    arrivals: int = 0


@dataclass
class Run:
    id: str
    job_id: str
    project_id: str
    trigger: str
    created: float
    image: str
    command: str
    start: float
    duration: float
    outcome: str
    exit_code: int
    error: str
    lines: list[tuple[float, str, str]]  # (fraction of the duration, stream, text)
    cpu: float  # cores
    memory: float  # bytes
    phase: float
    cancelled_at: float | None = None

    @property
    def end(self) -> float:
        return self.start + self.duration

    def cancelled_by(self, t: float) -> bool:
        return self.cancelled_at is not None and self.cancelled_at <= t and self.cancelled_at < self.end

    def status(self, t: float) -> str:
        if self.cancelled_by(t):
            return c.CANCELLED
        if t < self.start:
            return c.PENDING
        if t < self.end:
            return c.RUNNING
        return self.outcome

    def started_at(self, t: float) -> float | None:
        if self.cancelled_by(t) and self.cancelled_at < self.start:
            return None
        return self.start if t >= self.start else None

    def finished_at(self, t: float) -> float | None:
        if self.cancelled_by(t):
            return self.cancelled_at
        return self.end if t >= self.end else None

    def log(self, t: float) -> list[tuple[float, str, str]]:
        """Lines written by time ``t``: (timestamp, stream, text)."""
        until = min(t, self.cancelled_at) if self.cancelled_at is not None else t
        out = [(ts, stream, text) for ts, stream, text in self._timed() if ts <= until]
        if self.cancelled_by(t) and self.cancelled_at >= self.start:
            out.append((self.cancelled_at, c.STDERR, "Received SIGTERM: run cancelled"))
        return out

    def _timed(self) -> list[tuple[float, str, str]]:
        return [(self.start + frac * self.duration, stream, text) for frac, stream, text in self.lines]

    def usage(self, t: float) -> tuple[float, float] | None:
        """(cores, bytes) while running at ``t``, else None."""
        if self.status(t) != c.RUNNING:
            return None
        wave = math.sin(self.phase + t / 7.0)
        progress = min(max((t - self.start) / self.duration, 0.0), 1.0)
        return self.cpu * (0.75 + 0.25 * wave), self.memory * (0.8 + 0.2 * progress)


def plan_run(rng: random.Random, job: JobDef, run_id: str, created: float, trigger: str) -> Run:
    """Decide everything about a run up front, from its own random generator."""
    duration = rng.uniform(*job.seconds)
    fails = rng.random() < 0.15
    exit_code, error = rng.choice(FAILURES) if fails else (0, "")
    n = rng.randint(4, 12)
    texts: list[tuple[str, str]] = [
        (c.STDOUT, f"Pulling image {job.image}"),
        (c.STDOUT, f"Starting container: {job.command}" if job.command else "Starting container"),
    ]
    for _ in range(n):
        if rng.random() < 0.15:
            texts.append((c.STDERR, rng.choice(WARNINGS).format(ms=rng.randint(200, 4000), n=rng.randint(2, 5))))
        else:
            texts.append((c.STDOUT, rng.choice(job.lines).format(ms=rng.randint(3, 900), n=rng.randint(1, 99))))
    texts.append((c.STDERR, error) if fails else (c.STDOUT, f"Done in {duration:.1f}s"))
    lines = [((i + 1) / (len(texts) + 1), stream, text) for i, (stream, text) in enumerate(texts)]
    return Run(
        id=run_id,
        job_id=job.id,
        project_id=job.project_id,
        trigger=trigger,
        created=created,
        image=job.image,
        command=job.command,
        start=created + rng.uniform(0.5, 3.0),
        duration=duration,
        outcome=c.FAILED if fails else c.SUCCEEDED,
        exit_code=exit_code,
        error=error.removeprefix("ERROR: "),
        lines=lines,
        cpu=rng.uniform(0.1, 1.5),
        memory=rng.uniform(64, 512) * 1024 * 1024,
        phase=rng.uniform(0, math.tau),
    )
