"""Jobs platform JSON -> neutral records, and the external ids we give its objects
(docs/providers/jobsplatform.md, "How it appears in the dashboard"). Pure functions.

- Project: the project id.
- Pipeline (a job definition) and its Schedule: ``<project_id>:<job_id>``.
- Build (a run) and its single Job (the run itself): ``<job_id>:<run_id>``; job ids are
  taken to be unique within a workspace (they look like random ids). Both are stable,
  slash-free and name the provider's own ids, so permalinks survive a resync.

A run's title is "Run <short id>": the job's name is its pipeline, and its single Job
(the run itself) carries the job's name, so pages never say the name twice."""

from __future__ import annotations

from datetime import UTC, datetime

from dashboard.states import State, normalise
from providers.base.parse import integer, obj, text, timestamp
from providers.base.records import BuildRecord, JobRecord, ScheduleRecord

from . import contract as c
from .schedule import missed_fire

RUN_STATES = {
    c.PENDING: State.QUEUED,
    c.RUNNING: State.RUNNING,
    c.SUCCEEDED: State.PASSED,
    c.FAILED: State.FAILED,
    c.CANCELLED: State.CANCELED,
    "canceled": State.CANCELED,  # tolerate the American spelling
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HIDDEN = "(hidden)"


def pipeline_external_id(project_id: str, job_id: str) -> str:
    return f"{project_id}:{job_id}"


def run_external_id(job_id: str, run_id: str) -> str:
    return f"{job_id}:{run_id}"


def short_id(run_id: str) -> str:
    """A run id as people quote it: without a type prefix such as ``run_``, at most eight
    characters (like a short commit hash)."""
    head, sep, rest = run_id.partition("_")
    core = rest if sep and head.isalpha() and rest else run_id
    return core[:8]


def split_pipeline_id(external_id: str) -> tuple[str, str]:
    project_id, _, job_id = external_id.partition(":")
    return project_id, job_id


def split_run_id(external_id: str) -> tuple[str, str]:
    job_id, _, run_id = external_id.partition(":")
    return job_id, run_id


def stored_job(job: dict) -> dict:
    """The job as we keep it: env var values may be secrets, so only their names stay."""
    env = job.get(c.ENV_VARS)
    if isinstance(env, dict) and env:
        return {**job, c.ENV_VARS: dict.fromkeys(env, HIDDEN)}
    return job


def run_state(run: dict) -> tuple[State, str]:
    raw = text(run.get(c.RUN_STATUS), 64)
    return normalise(raw, RUN_STATES), raw


def build_record(project_id: str, job_id: str, job_name: str, run: dict) -> BuildRecord | None:
    """A run as a Build holding one Job (the run itself); None without a run id."""
    run_id = text(run.get(c.RUN_ID), 100)
    job_id = text(run.get(c.JOB_ID), 100) or job_id
    if not run_id or not job_id:
        return None
    external_id = run_external_id(job_id, run_id)
    state, raw_state = run_state(run)
    created = timestamp(run.get(c.CREATED_AT))
    started = timestamp(run.get(c.STARTED_AT))
    finished = timestamp(run.get(c.FINISHED_AT))
    raw = {"run": run, "project_id": project_id, "job_id": job_id, "job_name": job_name}
    name = job_name or job_id
    return BuildRecord(
        external_id=external_id,
        state=state,
        raw_state=raw_state,
        created_at=created or started or EPOCH,
        project_id=project_id,
        pipeline_id=pipeline_external_id(project_id, job_id),
        number=run_id,
        title=f"Run {short_id(run_id)}",
        triggered_by=text(run.get(c.TRIGGER), 100),
        started_at=started,
        finished_at=finished,
        raw=raw,
        jobs=[
            JobRecord(
                external_id=external_id,
                name=name,
                state=state,
                raw_state=raw_state,
                exit_code=integer(run.get(c.EXIT_CODE)),
                created_at=created,
                started_at=started,
                finished_at=finished,
                raw=raw,
            )
        ],
    )


def schedule_facts(job: dict, status: dict, last_run_at: datetime | None, now: datetime) -> dict:
    """Cron, next fire time and the missed flag of a scheduled job (empty when on demand)."""
    cron = text(status.get(c.SCHEDULE)) or text(job.get(c.SCHEDULE))
    if not cron:
        return {}
    next_fire_at = timestamp(status.get(c.NEXT_FIRE_AT))
    since = timestamp(job.get(c.UPDATED_AT)) or timestamp(job.get(c.CREATED_AT))
    missed = missed_fire(cron, now=now, next_fire_at=next_fire_at, last_run_at=last_run_at, since=since)
    return {
        "cron": cron,
        "next_fire_at": next_fire_at,
        "last_run_at": last_run_at,
        "missed": missed is not None,
        "missed_fire_at": missed,
        "checked_at": now,
    }


def schedule_record(project_id: str, job: dict, status: dict, facts: dict) -> ScheduleRecord:
    external_id = pipeline_external_id(project_id, text(job.get(c.JOB_ID)))
    latest = obj(status.get(c.LATEST_RUN))
    raw = {
        "missed": facts["missed"],
        "missed_fire_at": _iso(facts["missed_fire_at"]),
        "next_fire_at": _iso(facts["next_fire_at"]),
        "run_counts": obj(status.get(c.RUN_COUNTS)),
        "latest_run_id": text(latest.get(c.RUN_ID)),
    }
    return ScheduleRecord(
        external_id=external_id,
        name=text(job.get(c.NAME), 255) or external_id,
        cron=facts["cron"],
        timezone="UTC",
        enabled=True,
        project_id=project_id,
        pipeline_id=external_id,
        next_run_at=facts["next_fire_at"],
        last_run_at=facts["last_run_at"],
        raw=raw,
    )


def _iso(moment: datetime | None) -> str | None:
    return c.format_time(moment) if moment else None


def newest_scheduled(runs: list) -> datetime | None:
    """When the schedule last fired, from a runs list: the newest run it created."""
    times = [timestamp(obj(run).get(c.CREATED_AT)) for run in runs if text(obj(run).get(c.TRIGGER)) == c.SCHEDULED]
    return max((t for t in times if t is not None), default=None)
