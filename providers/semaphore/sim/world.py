"""The simulated Semaphore organisation (docs/providers/semaphore.md): projects,
workflows, pipelines, blocks and jobs whose states follow from the clock.

Every pipeline is planned once when it is created (job durations and outcomes come from
the seed), so its state at any moment is a pure function of the time and of the actions
taken on it (stop). History exists from the start; new workflows arrive every
``Scale.arrival_every`` seconds per project. As on the real server, a block's jobs exist
only once the block is scheduled: before that, and for blocks that never run, there is
no job to list, describe or log."""

from __future__ import annotations

from dataclasses import dataclass, field

PROJECT_NAMES = ["api", "web", "mobile", "infra", "docs", "billing", "search", "auth"]
BRANCHES = ["main", "main", "main", "feature/login", "fix/flaky-tests", "release/1.4", "dependabot/npm"]
BLOCK_NAMES = ["Build", "Unit tests", "Lint", "Integration", "Package", "Security scan"]
COMMIT_MESSAGES = [
    "Fix flaky checkout test",
    "Bump dependencies",
    "Add retry to uploader",
    "Refactor settings loading",
    "Speed up CI cache",
    "Handle empty payloads",
    "Render <b>bold</b> & friends safely",
    "Release 1.4.2",
]
HISTORY_SPACING = 600.0  # seconds between history workflows of a project


@dataclass
class JobPlan:
    id: str
    name: str
    index: int
    start: float
    duration: float
    passes: bool
    commands: list[str]
    machine_type: str = "e1-standard-2"
    os_image: str = "ubuntu2004"
    # Filled in when the pipeline is stopped while this job waits or runs.
    stopped_at: float | None = None
    # Jobs created through the jobs API or as debug sessions carry their own spec.
    spec: dict = field(default_factory=dict)
    debug_of: str = ""
    time_limit: int = 3600
    # When its block was scheduled (the job exists from then on); None: never.
    scheduled: float | None = None

    @property
    def self_hosted(self) -> bool:
        return self.machine_type.startswith("s1-")

    def updated(self, t: float) -> float:
        """When its state last changed, as of ``t``."""
        status = self.status(t)[0]
        if status == "FINISHED":
            return self.end
        if status == "RUNNING":
            return self.start
        return self.scheduled or self.start

    @property
    def end(self) -> float:
        return (
            self.stopped_at
            if self.stopped_at is not None and self.stopped_at < self.start + self.duration
            else self.start + self.duration
        )

    def status(self, t: float) -> tuple[str, str]:
        """(status, result) as the pipeline describe shows them."""
        if self.stopped_at is not None and self.stopped_at <= t and self.stopped_at < self.start + self.duration:
            return "FINISHED", "STOPPED"
        if t < self.start:
            return "QUEUED", "NONE"
        if t < self.start + self.duration:
            return "RUNNING", "NONE"
        return "FINISHED", "PASSED" if self.passes else "FAILED"


@dataclass
class BlockPlan:
    name: str
    deps: list[str]
    jobs: list[JobPlan]
    start: float | None  # None: never starts (a dependency failed)

    def passes(self) -> bool:
        return all(j.passes for j in self.jobs)


@dataclass
class Pipeline:
    id: str
    wf_id: str
    project_id: str
    name: str
    yml_file: str
    branch: str
    commit_sha: str
    commit_message: str
    created: float
    run_start: float
    blocks: list[BlockPlan]
    requester_id: str
    promotion_of: str = ""
    partial_rerun_of: str = ""
    terminated_at: float | None = None
    terminated_by: str = ""

    @property
    def planned_end(self) -> float:
        ends = [j.start + j.duration for b in self.blocks if b.start is not None for j in b.jobs]
        return max(ends, default=self.run_start)

    @property
    def end(self) -> float:
        if self.terminated_at is not None and self.terminated_at < self.planned_end:
            return max(self.terminated_at + 1.0, self.run_start)
        return self.planned_end

    def state(self, t: float) -> str:
        if t >= self.end:
            return "done"
        if self.terminated_at is not None and t >= self.terminated_at:
            return "stopping"
        if t < self.created + 0.5:
            return "initializing"
        if t < self.created + 1.0:
            return "pending"
        if t < self.run_start:
            return "queuing"
        return "running"

    def result(self, t: float) -> tuple[str, str]:
        """(result, result_reason) once done; a passed pipeline's reason is "test", as the
        real server sends it."""
        if self.terminated_at is not None and self.terminated_at < self.planned_end:
            return "stopped", "user"
        if all(b.passes() for b in self.blocks):
            return "passed", "test"
        return "failed", "test"

    def scheduled(self, block: BlockPlan, t: float) -> bool:
        """Whether the block's jobs exist at ``t``: it was scheduled, before any stop."""
        return (
            block.start is not None
            and t >= block.start
            and (self.terminated_at is None or block.start < self.terminated_at)
        )

    def exists(self, job: JobPlan, t: float) -> bool:
        return (
            job.scheduled is not None
            and t >= job.scheduled
            and (self.terminated_at is None or job.scheduled < self.terminated_at)
        )

    def block_state(self, block: BlockPlan, t: float) -> tuple[str, str, str]:
        """(state, result, result_reason)."""
        stopped = self.terminated_at is not None and self.terminated_at <= t
        if block.start is None or (stopped and block.start >= self.terminated_at):
            if t >= self.end:
                return "done", "canceled", "skipped" if block.start is None else "user"
            return "waiting", "", ""
        if t < block.start:
            return "waiting", "", ""
        if all(j.status(t)[0] == "FINISHED" for j in block.jobs):
            results = {j.status(t)[1] for j in block.jobs}
            if "STOPPED" in results:
                return "done", "stopped", "user"
            return "done", "passed" if results == {"PASSED"} else "failed", "test"
        return "running", "", ""

    def stop_job(self, job: JobPlan, t: float) -> bool:
        """Stop one job; False when it had already finished."""
        if job.status(t)[0] == "FINISHED":
            return False
        job.stopped_at = t + 1.0
        return True

    def stop(self, t: float, by: str) -> None:
        if self.terminated_at is not None or t >= self.end:
            return
        self.terminated_at = t
        self.terminated_by = by
        for block in self.blocks:
            for job in block.jobs:
                if job.start + job.duration > t:
                    job.stopped_at = t + 1.0


@dataclass
class Workflow:
    id: str
    project_id: str
    branch: str
    commit_sha: str
    created: float
    requester_id: str
    triggered_by: str
    pipelines: list[str] = field(default_factory=list)
    rerun_of: str = ""

    @property
    def initial_ppl_id(self) -> str:
        return self.pipelines[0] if self.pipelines else ""


@dataclass
class Project:
    id: str
    name: str
    index: int
    generated: int = 0  # how many seeded workflows exist so far
    workflows: list[str] = field(default_factory=list)


def log_events(job: JobPlan, t: float) -> list[dict]:
    """The job's log as Semaphore's event stream, as far as it has got at ``t``."""
    import random

    status, result = job.status(t)
    if status == "QUEUED":
        return []
    rng = random.Random(job.id)
    end = job.end
    span = max(end - job.start, 1.0)
    directives = ["Exporting environment variables", "Injecting Files", "checkout", *job.commands]
    slot = span / len(directives)
    events: list[dict] = [{"event": "job_started", "timestamp": int(job.start)}]
    for i, directive in enumerate(directives):
        begin = job.start + i * slot
        if begin > t:
            break
        events.append({"event": "cmd_started", "timestamp": int(begin), "directive": directive})
        lines = _output_lines(directive, rng, failing=not job.passes and i == len(directives) - 1)
        for n, line in enumerate(lines):
            at = begin + slot * (n + 1) / (len(lines) + 1)
            if at > t or (job.stopped_at is not None and at >= job.stopped_at):
                break
            events.append({"event": "cmd_output", "timestamp": int(at), "output": line})
        finish = begin + slot
        if finish > t or (job.stopped_at is not None and finish > job.stopped_at):
            break
        code = 1 if (not job.passes and i == len(directives) - 1) else 0
        events.append(
            {
                "event": "cmd_finished",
                "timestamp": int(finish),
                "directive": directive,
                "exit_code": code,
                "started_at": int(begin),
                "finished_at": int(finish),
            }
        )
    if status == "FINISHED":
        events.append({"event": "job_finished", "timestamp": int(end), "result": result.lower()})
    return events


def _output_lines(directive: str, rng, failing: bool) -> list[str]:
    if directive == "Exporting environment variables":
        return [f"Exporting {name}\n" for name in ("CI", "SEMAPHORE", "SEMAPHORE_GIT_SHA", "TERM")]
    if directive == "checkout":
        return ["Performing shallow clone with depth: 50\n", "HEAD is now at 4f1e2d3 Bump deps\n"]
    if directive == "Injecting Files":
        return []
    count = rng.randint(3, 9)
    lines = []
    for n in range(count):
        if rng.random() < 0.3:
            lines.append(f"\x1b[32m✓\x1b[0m test_case_{n} passed in {rng.randint(1, 900)}ms\n")
        else:
            lines.append(f"step {n + 1}/{count}: {directive} <ok> & done\n")
    if failing:
        lines.append("\x1b[31;1mFAIL\x1b[0m test_checkout_flow: expected 200, got 500\n")
    return lines
