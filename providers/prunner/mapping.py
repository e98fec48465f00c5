"""prunner's JSON -> neutral records.

A build is a prunner job (external id: the job's uuid), its jobs are the job's tasks
(external id ``<job id>:<task name>``). prunner has no job status; it is derived from
the flags exactly as prunner.md 3.7 orders it: canceled, then completed and errored
(failed), completed (passed), started (running, even when a task already failed), else
queued."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from dashboard.states import State, normalise
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
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def job_status(job: dict) -> tuple[State, str]:
    """(neutral state, a raw label naming the flags it came from)."""
    if job.get("canceled") is True:
        return State.CANCELED, "canceled"
    if job.get("completed") is True:
        if job.get("errored") is True:
            return State.FAILED, "completed/errored"
        return State.PASSED, "completed"
    if timestamp(job.get("start")) is not None:
        return State.RUNNING, "started/errored" if job.get("errored") is True else "started"
    return State.QUEUED, "waiting"


def task_id(job_id: str, task_name: str) -> str:
    return f"{job_id}:{task_name}"


def split_task_id(external_id: str) -> tuple[str, str]:
    """A uuid has no colon, so the first one ends the job id (task names may hold more)."""
    job_id, _, name = external_id.partition(":")
    return job_id, name


def pipeline_record(raw: Any) -> PipelineRecord | None:
    raw = obj(raw)
    name = text(raw.get("pipeline"))
    if not name:
        return None
    keep = {"schedulable": raw.get("schedulable"), "running": raw.get("running")}
    return PipelineRecord(external_id=name, name=name, raw=keep)


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


def build_record(job: dict) -> BuildRecord | None:
    job_id = text(job.get("id"))
    if not job_id:
        return None
    pipeline = text(job.get("pipeline"))
    state, raw_state = job_status(job)
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
        raw=job,
    )
    record.jobs = task_records(job, state, created)
    return record


def task_records(job: dict, job_state: State, created: datetime | None) -> list[JobRecord]:
    job_id = text(job.get("id"))
    tasks = [obj(t) for t in items(job.get("tasks"))]
    names = {text(t.get("name")) for t in tasks}
    records = []
    for position, task in enumerate(tasks):
        name = text(task.get("name"))
        if not name:
            continue
        status = text(task.get("status"), 64)
        ended = status in ENDED
        records.append(
            JobRecord(
                external_id=task_id(job_id, name),
                name=name,
                state=task_state(status, job_state),
                raw_state=status,
                group="error handler" if name == "on_error" else "",
                position=position,
                exit_code=integer(task.get("exitCode")) if ended else None,
                created_at=created,
                started_at=timestamp(task.get("start")),
                finished_at=timestamp(task.get("end")),
                depends_on=[
                    task_id(job_id, d) for d in items(task.get("dependsOn")) if isinstance(d, str) and d in names
                ],
                raw=task,
            )
        )
    return records


def task_state(status: str, job_state: State) -> State:
    """A task still ``waiting`` in a job that has ended will never run: prunner leaves
    the tasks after a fail-fast failure, or of a cancelled job, in ``waiting``."""
    state = normalise(status, TASK_STATES)
    if state == State.QUEUED and job_state == State.FAILED:
        return State.SKIPPED
    if state == State.QUEUED and job_state == State.CANCELED:
        return State.CANCELED
    return state
