"""The simulated Harmont account (fake, for tests and the demo): organizations,
pipelines, builds and their job DAGs, whose states follow from the clock.

Every build is planned once when it is created (which jobs run, how long, how they end),
so its state at any moment is a pure function of the time and of a cancel request. Job
states roll up into the build state the way Harmont's UI shows them: ``failing`` while a
hard-failed job's siblings still run, ``canceling`` while canceled jobs wind down
(docs/providers/harmont.md, "States")."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

ORG_NAMES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark"]
BRANCHES = ["main", "main", "main", "feature/login", "fix/flaky-tests", "release/1.4"]
MESSAGES = [
    "Fix flaky checkout test",
    "Bump dependencies",
    "Add retry to uploader",
    "Speed up CI cache",
    "Render <b>bold</b> & friends safely",
    "Release 1.4.2",
]
# (slug, name, command, soft-fail policy, retry policy); the shapes of both policies are
# undocumented free-form objects, these are our guess.
MIDDLE_STEPS = [
    ("lint", "Lint", "make lint", {"exit_codes": [1]}, None),
    ("unit", "Unit tests", "make test", None, {"automatic": [{"exit_status": -1, "limit": 2}]}),
    ("integration", "Integration tests", "make integration", None, None),
    ("image", "Build image", "docker build -t app .", None, {"automatic": [{"exit_status": 137, "limit": 1}]}),
    ("e2e", "End-to-end tests", "make e2e", {"exit_codes": [2]}, None),
    ("docs", "Docs", "make docs", None, None),
]
HISTORY_SPACING = 900.0  # seconds between seeded history builds of a pipeline
TERMINAL_JOB = frozenset({"passed", "failed", "skipped", "canceled", "timed_out"})
TERMINAL_BUILD = frozenset({"passed", "failed", "canceled"})
SCHEDULED_FOR, ASSIGNED_FOR, TIMING_OUT_FOR, CANCELING_FOR = 0.5, 0.5, 1.0, 1.0
STDOUT, STDERR, META = 0, 1, 2


@dataclass
class Org:
    slug: str
    name: str
    created: float
    pipelines: dict[str, Pipeline] = field(default_factory=dict)


@dataclass
class Pipeline:
    org: str
    slug: str
    name: str
    repository: str
    allow_manual: bool
    created: float
    index: int
    builds: dict[int, Build] = field(default_factory=dict)
    generated: int = 0  # seeded builds created so far

    @property
    def next_number(self) -> int:
        return max(self.builds, default=0) + 1


@dataclass
class Job:
    id: str
    step_key: str
    name: str
    command: str
    deps: list[str]
    duration: float
    outcome: str  # passed | failed | timed_out
    exit_code: int | None
    soft_fail_policy: dict | None
    retry_policy: dict | None
    created: float
    # Planned by ``Build.plan``: when it becomes ready, starts, ends; or when it is skipped.
    ready: float | None = None
    start: float | None = None
    end: float | None = None
    skipped_at: float | None = None

    @property
    def soft_failed(self) -> bool:
        return self.outcome == "failed" and self.soft_fail_policy is not None

    @property
    def hard_failure(self) -> bool:
        return self.outcome == "timed_out" or (self.outcome == "failed" and not self.soft_failed)


@dataclass
class Build:
    org: str
    pipeline: str
    number: int
    branch: str
    commit: str
    message: str
    source: str
    created: float
    jobs: list[Job]
    error_code: str | None = None
    error_message: str | None = None
    canceled_at: float | None = None
    env: dict[str, str] = field(default_factory=dict)  # accepted, never shown (not in the schema)

    @property
    def key(self) -> str:
        return f"{self.org}/{self.pipeline}/{self.number}"

    def plan(self) -> None:
        """Fix each job's times from its dependencies (jobs are in topological order)."""
        by_id = {job.id: job for job in self.jobs}
        for job in self.jobs:
            deps = [by_id[d] for d in job.deps if d in by_id]
            failed = [d for d in deps if d.skipped_at is not None or d.hard_failure]
            if failed:
                job.skipped_at = min(d.skipped_at if d.skipped_at is not None else d.end for d in failed)
                continue
            job.ready = max((d.end for d in deps), default=self.created + 1.0)
            job.start = job.ready + SCHEDULED_FOR + ASSIGNED_FOR
            job.end = job.start + job.duration

    # States ---------------------------------------------------------------------------
    def job_state(self, job: Job, t: float) -> str:
        cut = self.canceled_at
        if job.skipped_at is not None:
            if cut is not None and cut < job.skipped_at and t >= cut:
                return "canceled"
            return "skipped" if t >= job.skipped_at else "pending"
        assert job.ready is not None and job.start is not None and job.end is not None
        if cut is not None and cut < job.end and t >= cut:
            if cut < job.start:
                return "canceled"
            return "canceling" if t < cut + CANCELING_FOR else "canceled"
        if t < job.ready:
            return "pending"
        if t < job.ready + SCHEDULED_FOR:
            return "scheduled"
        if t < job.start:
            return "assigned"
        if t < job.end:
            if job.outcome == "timed_out" and t >= job.end - TIMING_OUT_FOR:
                return "timing_out"
            return "running"
        return job.outcome

    def job_times(self, job: Job, t: float) -> tuple[float | None, float | None]:
        """(started_at, finished_at) as seen at ``t``."""
        state = self.job_state(job, t)
        started = job.start if job.start is not None and t >= job.start else None
        if state == "canceled" and self.canceled_at is not None:
            if started is not None and started > self.canceled_at:
                started = None
            end = self.canceled_at + (CANCELING_FOR if started is not None else 0.0)
            return started, end
        if state == "skipped":
            return None, job.skipped_at
        return started, job.end if state in TERMINAL_JOB else None

    def state(self, t: float) -> str:
        if self.error_code:
            return "failed"
        states = [self.job_state(job, t) for job in self.jobs]
        if not states:
            return "scheduled"
        done = all(s in TERMINAL_JOB for s in states)
        hard = any(
            s == "timed_out" or (s == "failed" and not job.soft_failed)
            for s, job in zip(states, self.jobs, strict=True)
        )
        if self.canceled_at is not None and t >= self.canceled_at:
            if not done:
                return "canceling"
            if "canceled" in states:
                return "canceled"
        if done:
            return "failed" if hard else "passed"
        if hard:
            return "failing"
        if all(s in ("pending", "scheduled", "assigned") for s in states):
            return "scheduled"
        return "running"

    def started_at(self, t: float) -> float | None:
        starts = [s for job in self.jobs if (s := self.job_times(job, t)[0]) is not None]
        return min(starts, default=None)

    def finished_at(self, t: float) -> float | None:
        if self.error_code:
            return self.created
        if self.state(t) not in TERMINAL_BUILD:
            return None
        ends = [e for job in self.jobs if (e := self.job_times(job, t)[1]) is not None]
        return max(ends, default=self.created)

    def cancel(self, t: float) -> None:
        """Idempotent: a terminal build, or one already being canceled, is left alone."""
        if self.canceled_at is None and self.state(t) not in TERMINAL_BUILD:
            self.canceled_at = t


@dataclass
class Chunk:
    seq: int
    stream_kind: int
    content: str
    at: float


def plan_jobs(rng: random.Random, make_id, created: float, count: int, outcomes: dict[str, str] | None) -> list[Job]:
    """A DAG: ``setup`` first, the middle steps in parallel after it, ``package`` last."""
    count = max(1, count)
    steps: list[tuple[str, str, str, dict | None, dict | None, list[str]]] = [
        ("setup", "Install dependencies", "make deps", None, None, [])
    ]
    middles = []
    for i in range(max(0, count - 2)):
        key, name, command, soft, retry = MIDDLE_STEPS[i % len(MIDDLE_STEPS)]
        if i >= len(MIDDLE_STEPS):
            key, name = f"{key}-{i // len(MIDDLE_STEPS) + 1}", f"{name} ({i // len(MIDDLE_STEPS) + 1})"
        steps.append((key, name, command, soft, retry, ["setup"]))
        middles.append(key)
    if count >= 2:
        steps.append(("package", "Package", "make package", None, None, middles or ["setup"]))
    ids = {key: make_id(key) for key, *_ in steps}
    jobs = []
    for key, name, command, soft, retry, deps in steps:
        outcome = (outcomes or {}).get(key) or _outcome(rng, key)
        duration = rng.uniform(2, 6) if key in ("setup", "package") else rng.uniform(5, 40)
        exit_code = {"passed": 0, "failed": rng.choice([1, 2]), "timed_out": None}[outcome]
        if outcome == "failed" and soft is not None:
            exit_code = soft["exit_codes"][0]  # a failure the policy allows
        jobs.append(
            Job(
                id=ids[key],
                step_key=key,
                name=name,
                command=command,
                deps=[ids[d] for d in deps],
                duration=duration,
                outcome=outcome,
                exit_code=exit_code,
                soft_fail_policy=soft,
                retry_policy=retry,
                created=created,
            )
        )
    return jobs


def _outcome(rng: random.Random, key: str) -> str:
    roll = rng.random()
    if key == "setup":
        return "failed" if roll < 0.03 else "passed"
    if roll < 0.08:
        return "failed"
    if roll < 0.1:
        return "timed_out"
    return "passed"


def log_chunks(build: Build, job: Job, t: float) -> list[Chunk]:
    """The job's log as Harmont's chunks, as far as it has got at ``t``: nothing before
    the job runs, stderr warnings, multi-line and partial-line chunks, meta lines."""
    if job.start is None or t < job.start:
        return []
    end = job.end or job.start
    cut = build.canceled_at if build.canceled_at is not None and build.canceled_at < end else None
    if cut is not None and cut <= job.start:
        return []  # canceled before it ran
    rng = random.Random(job.id)
    planned: list[tuple[int, str, float]] = [(META, f"--- runner h{rng.randint(1, 9)} picked up {job.step_key}\n", 0.0)]
    planned.append((STDOUT, f"$ {job.command}\n", 0.02))
    lines = rng.randint(4, 10)
    for n in range(lines):
        frac = 0.05 + 0.9 * (n + 1) / (lines + 1)
        roll = rng.random()
        if roll < 0.2:
            planned.append((STDERR, f"warning: step {n + 1} is slow (\x1b[1m{rng.randint(2, 9)}s\x1b[0m)\n", frac))
        elif roll < 0.3:
            planned.append((STDOUT, f"compiling part {n + 1}... ", frac))  # a partial line
            planned.append((STDOUT, "done\n", frac + 0.01))
        elif roll < 0.4:
            planned.append((STDOUT, f"\x1b[32m✓\x1b[0m test_{n}a ok\n\x1b[32m✓\x1b[0m test_{n}b ok\n", frac))
        else:
            planned.append((STDOUT, f"step {n + 1}/{lines}: {job.step_key} <ok> & done\n", frac))
    if job.outcome == "failed":
        planned.append((STDERR, f"error: {job.step_key} failed: expected 200, got 500\n", 0.97))
    ending = {
        "passed": "--- exited with code 0\n",
        "failed": f"--- exited with code {job.exit_code}\n",
        "timed_out": f"--- timed out after {job.duration:.0f}s\n",
    }[job.outcome]
    planned.append((META, ending, 1.0))
    span = max(end - job.start, 0.001)
    chunks = []
    for seq, (kind, content, frac) in enumerate(planned):
        at = job.start + span * frac
        if at > t or (cut is not None and at >= cut):
            break
        chunks.append(Chunk(seq, kind, content, at))
    if cut is not None and t >= cut:
        chunks.append(Chunk(len(chunks), META, "--- canceled\n", cut))
    return chunks
