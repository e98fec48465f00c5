"""prunner's JSON -> neutral records (pure functions).

A build is a prunner job (external id: the job's uuid), its jobs are the job's tasks
(external id ``<job id>:<task name>``). prunner has no job status: ours is derived from
its flags and its tasks as docs/providers/prunner.md ("Job state") says, correcting
what the real server reports:

- a job with a task in ``error`` failed, even when prunner says ``canceled`` (its
  fail-fast kills the tasks still running, which it then reports as a cancel with
  ``lastError: "context canceled"``); it was canceled only when nothing errored or when
  a person canceled it from this dashboard (noted under ``OURS`` by the cancel action);
- failed and canceled tasks never get an ``end``: a task of a finished job ends no
  later than its job (unknown when the job's end is unknown too);
- ``exitCode: -1`` means "not known" (every passed and running task shows it);
- a task that failed with ``allow_failure`` is ``done`` with its real exit code and
  ``errored: false``: an allowed failure.

What we learned before and prunner no longer says (``lastError`` is dropped at a prunner
restart; our own notes) is carried forward from what we stored (``held_raw``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from dashboard.states import FINISHED, State, normalise
from providers.base.parse import integer, items, obj, text, timestamp
from providers.base.records import BuildRecord, JobRecord, PipelineRecord

TASK_STATES = {
    "waiting": State.QUEUED,
    "running": State.RUNNING,
    "skipped": State.SKIPPED,
    "done": State.PASSED,
    "error": State.FAILED,
    "canceled": State.CANCELED,
}
ENDED = frozenset({"skipped", "done", "error", "canceled"})
UNKNOWN_EXIT = -1  # prunner's exit code of a task it has not (yet) recorded one for
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The key of a build's raw JSON under which we keep what prunner does not say, e.g.
# {"canceled_by": "otto"}; prunner never sends it.
OURS = "dashboard"
CONTEXT_CANCELED = "context canceled"


def task_errored(task: dict) -> bool:
    return task.get("status") == "error" or task.get("errored") is True


def job_status(job: dict) -> tuple[State, str]:
    """(neutral state, a raw label naming the flags it came from)."""
    tasks = [obj(t) for t in items(job.get("tasks"))]
    errored = job.get("errored") is True or any(task_errored(t) for t in tasks)
    if job.get("canceled") is True:
        if errored and not obj(job.get(OURS)).get("canceled_by"):
            return State.FAILED, "canceled/errored"
        return State.CANCELED, "canceled"
    if job.get("completed") is True:
        if errored:
            return State.FAILED, "completed/errored"
        return State.PASSED, "completed"
    if timestamp(job.get("start")) is not None:
        return State.RUNNING, "started/errored" if errored else "started"
    return State.QUEUED, "waiting"


def task_id(job_id: str, task_name: str) -> str:
    return f"{job_id}:{task_name}"


def split_task_id(external_id: str) -> tuple[str, str]:
    """A uuid has no colon, so the first one ends the job id (task names may hold more)."""
    job_id, _, name = external_id.partition(":")
    return job_id, name


def waiting_counts(jobs: list | None) -> dict[str, int] | None:
    """Jobs on each pipeline's wait list (not started, not canceled); None when the
    jobs were not listed."""
    if jobs is None:
        return None
    counts: dict[str, int] = {}
    for job in map(obj, jobs):
        if timestamp(job.get("start")) is None and job.get("canceled") is not True and job.get("completed") is not True:
            name = text(job.get("pipeline"))
            counts[name] = counts.get(name, 0) + 1
    return counts


def pipeline_record(raw: Any, waiting: int | None = None) -> PipelineRecord | None:
    raw = obj(raw)
    name = text(raw.get("pipeline"))
    if not name:
        return None
    keep = {"schedulable": raw.get("schedulable"), "running": raw.get("running")}
    if waiting is not None:
        keep["waiting"] = waiting  # ours, counted from the same answer's jobs
    return PipelineRecord(external_id=name, name=name, raw=keep)


def pipeline_records(
    pipelines: list, jobs: list | None = None, stored: dict[str, Any] | None = None
) -> list[PipelineRecord]:
    """The pipelines, each with the jobs on its wait list counted from ``jobs``; without
    them, the count we stored (``stored``: name -> raw) is kept."""
    counts = waiting_counts(jobs)
    if counts is None and stored is not None:
        counts = {n: obj(r).get("waiting") for n, r in stored.items() if isinstance(obj(r).get("waiting"), int)}
    found = []
    for raw in pipelines:
        name = text(obj(raw).get("pipeline"))
        record = pipeline_record(raw, None if counts is None else counts.get(name, 0 if jobs is not None else None))
        if record is not None:
            found.append(record)
    return found


def summary(variables: Any, limit: int = 160) -> str:
    """``tag_name=v1.17.4, databases=[mysql, postgresql]`` for a title."""
    parts = []
    for key, value in sorted(obj(variables).items()):
        if isinstance(value, list):
            shown = "[" + ", ".join(v if isinstance(v, str) else json.dumps(v) for v in value) + "]"
        elif isinstance(value, str):
            shown = value
        else:
            shown = json.dumps(value, separators=(",", ":"))
        parts.append(f"{key}={shown}")
    joined = ", ".join(parts)
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"


def carried_forward(job: dict, held_raw: Any = None, notes: dict | None = None) -> dict:
    """The job as prunner sent it, plus what we stored and it no longer says: its
    ``lastError`` and its tasks' ``error`` (prunner forgets the first at a restart),
    the tasks themselves when the answer lacked them, and our own notes."""
    held = obj(held_raw)
    raw = dict(job)
    ours = {**obj(held.get(OURS)), **(notes or {})}
    if ours:
        raw[OURS] = ours
    if not isinstance(raw.get("lastError"), str) and isinstance(held.get("lastError"), str):
        raw["lastError"] = held["lastError"]
    held_tasks = {text(t.get("name")): t for t in map(obj, items(held.get("tasks")))}
    if not isinstance(raw.get("tasks"), list) or not raw["tasks"]:
        if held_tasks:
            raw["tasks"] = list(held_tasks.values())
        return raw
    tasks = []
    for task in map(obj, raw["tasks"]):
        before = held_tasks.get(text(task.get("name")), {})
        if not isinstance(task.get("error"), str) and isinstance(before.get("error"), str):
            task = {**task, "error": before["error"]}
        tasks.append(task)
    raw["tasks"] = tasks
    return raw


def build_record(job: Any, held_raw: Any = None, notes: dict | None = None) -> BuildRecord | None:
    """The build for one prunner job. ``held_raw``: what we stored of it, if anything;
    ``notes``: facts of ours to keep with it (see ``OURS``)."""
    job = obj(job)
    job_id = text(job.get("id"))
    if not job_id:
        return None
    raw = carried_forward(job, held_raw, notes)
    pipeline = text(job.get("pipeline"))
    state, raw_state = job_status(raw)
    variables = summary(job.get("variables"))
    created = timestamp(job.get("created"))
    record = BuildRecord(
        external_id=job_id,
        state=state,
        raw_state=raw_state,
        created_at=created or timestamp(job.get("start")) or EPOCH,
        pipeline_id=pipeline or None,
        number=job_id[:8],
        title=f"{pipeline} · {variables}" if variables else pipeline or job_id,
        triggered_by=text(job.get("user")),
        started_at=timestamp(job.get("start")),
        finished_at=timestamp(job.get("end")),
        raw=raw,
    )
    tasks = job.get("tasks")
    # A job always has tasks (a pipeline without any runs nothing): an answer without
    # them, or with none, is read again later rather than taken as "no tasks".
    record.jobs = task_records(raw, state, created) if isinstance(tasks, list) and tasks else None
    return record


def task_records(job: dict, job_state: State, created: datetime | None) -> list[JobRecord]:
    job_id = text(job.get("id"))
    job_end = timestamp(job.get("end")) if job_state in FINISHED else None
    tasks = [obj(t) for t in items(job.get("tasks"))]
    names = {text(t.get("name")) for t in tasks}
    records = []
    for position, task in enumerate(tasks):
        name = text(task.get("name"))
        if not name:
            continue
        status = text(task.get("status"), 64)
        code = exit_code(task)
        allowed = status == "done" and code not in (None, 0)
        state = State.FAILED if allowed else task_state(status, job_state)
        records.append(
            JobRecord(
                external_id=task_id(job_id, name),
                name=name,
                state=state,
                raw_state=status,
                group="error handler" if name == "on_error" else "",
                position=position,
                exit_code=code,
                created_at=created,
                started_at=timestamp(task.get("start")),
                finished_at=task_end(task, state, job_end),
                depends_on=[
                    task_id(job_id, d) for d in items(task.get("dependsOn")) if isinstance(d, str) and d in names
                ],
                allowed_failure=allowed,
                raw=task,
            )
        )
    return records


def exit_code(task: dict) -> int | None:
    """The task's exit code when prunner knows it: a task that ran to ``done`` or
    ``error`` (prunner reports -1 until it records one, and for every passed task)."""
    code = integer(task.get("exitCode"))
    if task.get("status") not in ("done", "error") or code is None or code == UNKNOWN_EXIT:
        return None
    return code


def task_end(task: dict, state: State, job_end: datetime | None) -> datetime | None:
    """prunner sets ``end`` only for tasks that passed: a task of a finished job ended no
    later than its job; a task that did not run to its end has none of its own."""
    end = timestamp(task.get("end"))
    if state not in FINISHED:
        return end
    if end is not None and job_end is not None:
        return min(end, job_end)
    if end is None and timestamp(task.get("start")) is None:
        return None  # it never started
    return end or job_end


def task_state(status: str, job_state: State) -> State:
    """A task still ``waiting`` in a job that has ended will never run: prunner leaves
    the tasks after a fail-fast failure, or of a cancelled job, in ``waiting``."""
    state = normalise(status, TASK_STATES)
    if state == State.QUEUED and job_state == State.FAILED:
        return State.SKIPPED
    if state == State.QUEUED and job_state == State.CANCELED:
        return State.CANCELED
    return state
