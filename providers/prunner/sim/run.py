"""The course of one started prunner job, as a pure function of its plan, its start time
and the times someone asked to cancel it. It follows prunner's scheduler (prunner.go,
taskctl/scheduler.go at b692da9):

- a task starts when all its dependencies are ``done``;
- a failing task is ``error`` with ``exitCode`` and ``error: "exit status N"``;
- fail-fast (the default): the first failure cancels the tasks still running (they end
  ``canceled``) and tasks that had not started stay ``waiting`` in the finished job;
- ``continue_running_tasks_after_failure``: the other branches run on, and the tasks
  that depend on a failed or canceled task become ``canceled`` without starting;
- a cancel kills the running tasks (``canceled``, exit code -1); the job's
  ``lastError`` is then ``context canceled`` and it ends ``canceled: true``;
- after a failure or a cancel, a pipeline's ``on_error`` task is appended to the job's
  tasks and runs; the job completes when it ends."""

from __future__ import annotations

from dataclasses import dataclass

from .plans import JobPlan, PipelineDef, TaskPlan, render, task_order

KILLED_EXIT_CODE = -1  # what Go reports for a process killed by a signal


@dataclass
class TaskRun:
    name: str
    depends_on: tuple[str, ...]
    plan: TaskPlan
    start: float | None = None
    end: float | None = None  # when its final status shows
    status: str = "waiting"  # the final status, from ``end`` on
    exit_code: int = 0
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

    def errored_at(self, t: float) -> bool:
        return self.ended(t) and self.status == "error"

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
        self.end, self.status, self.exit_code, self.error = t, "canceled", KILLED_EXIT_CODE, None


@dataclass
class Run:
    tasks: list[TaskRun]  # prunner's order; on_error last
    end: float
    canceled: bool
    last_error: str | None


def waiting_tasks(pipeline: PipelineDef, plan: JobPlan) -> list[TaskRun]:
    return [TaskRun(name, pipeline.task(name).depends_on, plan.tasks[name]) for name in task_order(pipeline.tasks)]


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
            last_error = "context canceled"
            continue
        t = next_end
        failed = [r for r in active if r.end == t and r.status == "error"]
        if failed:
            first_failed = first_failed or failed[0]
            last_error = failed[-1].error
            if not pipeline.continue_running_tasks_after_failure:
                halted = True
                for r in active:
                    if r.end > t:
                        r.kill(t)
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
                r.start, r.end = t, t + r.plan.duration
                code = r.plan.exit_code
                r.status, r.exit_code, r.error = ("error", code, f"exit status {code}") if code else ("done", 0, None)


def _on_error(plan: TaskPlan, failed: TaskRun | None, t: float) -> TaskRun:
    # prunner passes the first failed task to on_error; after a cancel there is none.
    facts = {
        "failedTaskName": failed.name if failed else None,
        "failedTaskExitCode": failed.exit_code if failed else None,
        "failedTaskError": failed.error if failed else None,
    }
    lines = [(frac, stream, render(text, facts)) for frac, stream, text in plan.lines]
    run = TaskRun("on_error", (), TaskPlan(plan.duration, plan.exit_code, lines), added_at=t)
    run.start, run.end = t, t + plan.duration
    if plan.exit_code:
        run.status, run.exit_code, run.error = "error", plan.exit_code, f"exit status {plan.exit_code}"
    else:
        run.status = "done"
    return run
