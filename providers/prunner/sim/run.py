"""The course of one started prunner job, as a pure function of its plan, its start time
and the times someone asked to cancel it, and what the API shows of each task at a
moment. It follows prunner's scheduler and task runner at b692da9 as
docs/providers/prunner.md ("As the real server answers") describes them:

- a task starts when all its dependencies are ``done`` (an allowed failure is ``done``);
- a failing task is ``error`` with ``exitCode`` N, ``errored`` and ``error: "exit status
  N"``, and never gets an ``end``; a task whose script names a variable the job was not
  given fails at once with Go's template error and ``exitCode: -1``;
- a task that fails with ``allow_failure`` ends ``done`` with its real exit code,
  ``errored: false`` and an ``end``; one that passes shows ``exitCode: -1`` (as does a
  running one): prunner reports the change before it records the code;
- fail-fast (the default): the first failure cancels the job; the tasks still running
  are killed (``canceled``, exit code -1, no ``end``), which makes the job end with
  ``lastError: "context canceled"`` and ``canceled: true`` although a task failed;
  tasks that had not started stay ``waiting``;
- ``continue_running_tasks_after_failure``: the other branches run on, and the tasks
  that depend on a failed or canceled task become ``canceled`` without starting;
- a cancel kills the running tasks the same way; the job ends ``canceled: true`` with
  ``lastError: "context canceled"``;
- after a failure or a cancel, a pipeline's ``on_error`` task is appended to the job's
  tasks and runs; the job completes when it ends."""

from __future__ import annotations

from dataclasses import dataclass

from .plans import JobPlan, PipelineDef, TaskPlan, render, task_order

UNKNOWN_EXIT_CODE = -1  # prunner's exitCode until it records one, and of a killed task
CONTEXT_CANCELED = "context canceled"
TEMPLATE_ERROR_SECONDS = 0.1  # a script that cannot be rendered fails at once


@dataclass(frozen=True)
class TaskView:
    """One task as the API shows it at a moment."""

    status: str
    start: float | None
    end: float | None
    exit_code: int
    errored: bool
    error: str | None


@dataclass
class TaskRun:
    name: str
    depends_on: tuple[str, ...]
    plan: TaskPlan
    allow_failure: bool = False
    start: float | None = None
    end: float | None = None  # when its final status shows
    status: str = "waiting"  # the final status, from ``end`` on
    exit_code: int = 0  # the final exit code (-1: none recorded)
    error: str | None = None
    added_at: float | None = None  # on_error: when it joined the job's task list

    def visible(self, t: float) -> bool:
        return self.added_at is None or t >= self.added_at

    def status_at(self, t: float) -> str:
        if self.end is not None and t >= self.end:
            return self.status
        if self.start is not None and t >= self.start:
            return "running"
        return "waiting"

    def ended(self, t: float) -> bool:
        return self.end is not None and t >= self.end

    def started(self, t: float) -> bool:
        return self.start is not None and t >= self.start

    def view(self, t: float, halted_at: float | None = None) -> TaskView:
        """What ``/job/detail`` shows of this task at ``t``. ``halted_at``: prunner
        restarted then while the job ran; the tasks still waiting or running were
        marked ``canceled`` as they were."""
        at = t if halted_at is None else min(t, halted_at)
        status = self.status_at(at)
        started = self.started(at)
        if status == "waiting":
            code = 0
        elif status == "running":
            code = UNKNOWN_EXIT_CODE
        elif status == "done":
            code = self.exit_code or UNKNOWN_EXIT_CODE  # an allowed failure keeps its code
        elif status == "canceled":
            code = UNKNOWN_EXIT_CODE if started else 0
        else:
            code = self.exit_code
        errored, error = status == "error", self.error if status == "error" else None
        end = self.end if status == "done" else None
        if halted_at is not None and t >= halted_at and status in ("waiting", "running"):
            status = "canceled"
        return TaskView(status, self.start if started else None, end, code, errored, error)

    def output(self, t: float) -> tuple[str, str]:
        """(stdout, stderr) as captured by ``t``."""
        if self.start is None or t < self.start:
            return "", ""
        limit = t if self.end is None else min(t, self.end)
        streams: dict[str, list[str]] = {"stdout": [], "stderr": []}
        killed = self.status == "canceled"
        for frac, stream, text in self.plan.lines:
            at = self.start + frac * self.plan.duration
            if at <= limit and not (killed and self.end is not None and at >= self.end):
                streams[stream].append(text)
        return "".join(streams["stdout"]), "".join(streams["stderr"])

    def kill(self, t: float) -> None:
        self.end, self.status, self.exit_code, self.error = t, "canceled", UNKNOWN_EXIT_CODE, None

    def begin(self, t: float) -> None:
        """Start now; the plan fixes how it ends."""
        plan = self.plan
        self.start = t
        if plan.error:
            self.end, self.status, self.exit_code, self.error = t + TEMPLATE_ERROR_SECONDS, "error", -1, plan.error
            return
        self.end = t + plan.duration
        code = plan.exit_code
        if code and self.allow_failure:
            self.status, self.exit_code, self.error = "done", code, None
        elif code:
            self.status, self.exit_code, self.error = "error", code, f"exit status {code}"
        else:
            self.status, self.exit_code, self.error = "done", 0, None


@dataclass
class Run:
    tasks: list[TaskRun]  # prunner's order; on_error last
    end: float
    canceled: bool
    last_error: str | None


def waiting_tasks(pipeline: PipelineDef, plan: JobPlan) -> list[TaskRun]:
    return [
        TaskRun(name, pipeline.task(name).depends_on, plan.tasks[name], pipeline.task(name).allow_failure)
        for name in task_order(pipeline.tasks)
    ]


def run_job(pipeline: PipelineDef, plan: JobPlan, start: float, cancels: list[float]) -> Run:
    runs = {r.name: r for r in waiting_tasks(pipeline, plan)}
    pending = sorted(c for c in cancels if c >= start)
    t = start
    halted = canceled = False
    first_failed: TaskRun | None = None
    last_error: str | None = None
    while True:
        if not halted:
            _start_ready(runs, t)
        active = [r for r in runs.values() if r.start is not None and r.end > t]
        if not active:
            break
        next_end = min(r.end for r in active)
        if pending and pending[0] < next_end:
            t = max(pending.pop(0), t)
            for r in active:
                r.kill(t)
            halted = canceled = True
            last_error = CONTEXT_CANCELED
            continue
        t = next_end
        failed = [r for r in active if r.end == t and r.status == "error"]
        if failed:
            first_failed = first_failed or failed[0]
            last_error = failed[-1].error
            if not pipeline.continue_running_tasks_after_failure:
                halted = True
                survivors = [r for r in active if r.end > t]
                for r in survivors:
                    r.kill(t)
                if survivors:  # the killed tasks report the context's error last
                    canceled, last_error = True, CONTEXT_CANCELED
    tasks = list(runs.values())
    end = t
    if pipeline.on_error is not None and plan.on_error is not None and last_error is not None:
        on_error = _on_error(plan.on_error, first_failed, t)
        later = [c for c in pending if c >= t]
        if later and later[0] < on_error.end:
            on_error.kill(later[0])
        tasks.append(on_error)
        end = on_error.end
    return Run(tasks, end, canceled, last_error)


def _start_ready(runs: dict[str, TaskRun], t: float) -> None:
    changed = True
    while changed:
        changed = False
        for r in runs.values():
            if r.start is not None or r.end is not None:
                continue
            deps = [runs[d] for d in r.depends_on if d in runs]
            if any(d.ended(t) and d.status in ("error", "canceled") for d in deps):
                r.end, r.status = t, "canceled"  # never started: its dependency did not pass
                changed = True
            elif all(d.ended(t) and d.status == "done" for d in deps):
                r.begin(t)


def _on_error(plan: TaskPlan, failed: TaskRun | None, t: float) -> TaskRun:
    # prunner passes the first failed task to on_error; after a cancel there is none.
    facts = {
        "failedTaskName": failed.name if failed else None,
        "failedTaskExitCode": failed.exit_code if failed else None,
        "failedTaskError": failed.error if failed else None,
    }
    lines = [(frac, stream, render(text, facts)) for frac, stream, text in plan.lines]
    run = TaskRun("on_error", (), TaskPlan(plan.duration, plan.exit_code, lines), added_at=t)
    run.begin(t)
    return run
