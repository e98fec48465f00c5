"""Harmont JSON -> neutral records (pure functions; see docs/providers/harmont.md,
"Mapping" and "States").

A project is an organization, a pipeline ``<org>:<pipeline>``, a build
``<org>:<pipeline>:<number>`` (shown as ``#<number>``) and its jobs are the build's DAG
(job uuid, ``depends_on``)."""

from __future__ import annotations

from datetime import UTC, datetime

from dashboard.states import State, normalise
from providers.base.errors import BadResponse
from providers.base.parse import integer, items, obj, text, timestamp
from providers.base.records import BuildRecord, JobRecord, PipelineRecord, ProjectRecord

# docs/providers/harmont.md, "States": the Build and Job enums of the spec.
BUILD_STATES = {
    "scheduled": State.QUEUED,
    "running": State.RUNNING,
    "failing": State.RUNNING,
    "canceling": State.RUNNING,
    "passed": State.PASSED,
    "failed": State.FAILED,
    "canceled": State.CANCELED,
}
JOB_STATES = {
    "pending": State.QUEUED,
    "scheduled": State.QUEUED,
    "assigned": State.QUEUED,
    "running": State.RUNNING,
    "canceling": State.RUNNING,
    "timing_out": State.RUNNING,
    "passed": State.PASSED,
    "failed": State.FAILED,
    "timed_out": State.FAILED,
    "skipped": State.SKIPPED,
    "canceled": State.CANCELED,
}
TERMINAL_BUILD = frozenset({"passed", "failed", "canceled"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class JobsUnknown(BadResponse):
    """A jobs list that cannot be the build's whole DAG (empty for a build that ran)."""


def build_id(org: str, pipeline: str, number: int) -> str:
    return f"{org}:{pipeline}:{number}"


def split_build_id(external_id: str) -> tuple[str, str, int] | None:
    parts = external_id.split(":")
    if len(parts) != 3 or integer(parts[2]) is None:
        return None
    return parts[0], parts[1], int(parts[2])


def project_record(org: dict) -> ProjectRecord | None:
    slug = text(org.get("slug"))
    return ProjectRecord(slug, text(org.get("name")) or slug, org) if slug else None


def pipeline_record(org: str, pipeline: dict) -> PipelineRecord | None:
    slug = text(pipeline.get("slug"))
    if not slug:
        return None
    return PipelineRecord(f"{org}:{slug}", text(pipeline.get("name")) or slug, org, pipeline)


def web_url(template: str, org: str, pipeline: str, number: int) -> str:
    """Harmont's web URLs are not documented: a connection may give a template."""
    try:
        url = template.format(org=org, pipeline=pipeline, number=number)
    except (KeyError, IndexError, ValueError):
        return ""  # a template naming other fields: no link rather than a failed sync
    return url if url.startswith(("https://", "http://")) else ""


def build_record(
    org: str, pipeline: str, data: dict, jobs: list[dict] | None, *, link_template: str = ""
) -> BuildRecord:
    """A Build (and its jobs list when read). ``jobs`` None: not read this time."""
    number = integer(data.get("number")) or 0
    raw_state = text(data.get("state"))
    message = text(data.get("message"), 10_000)
    record = BuildRecord(
        external_id=build_id(org, pipeline, number),
        state=normalise(raw_state, BUILD_STATES),
        raw_state=raw_state,
        created_at=timestamp(data.get("created_at")) or timestamp(data.get("scheduled_at")) or _EPOCH,
        project_id=org,
        pipeline_id=f"{org}:{pipeline}",
        number=f"#{number}",
        title=(message.splitlines() or [""])[0][:500] or f"#{number}",
        branch=text(data.get("branch")),
        commit_sha=text(data.get("commit"), 64),
        commit_message=message,
        triggered_by=text(data.get("source")),
        started_at=timestamp(data.get("started_at")),
        finished_at=timestamp(data.get("finished_at")),
        web_url=web_url(link_template, org, pipeline, number) if link_template else "",
        raw={"org": org, "pipeline": pipeline, "build": data},
    )
    if jobs is not None:
        record.jobs = [r for position, job in enumerate(jobs) if (r := job_record(job, position))]
    return record


def jobs_or_unknown(build: dict, jobs: list[dict]) -> list[dict] | None:
    """The jobs list as the build's DAG, or None while Harmont is still planning it.

    A build's jobs are planned when it is created; a build refused at planning
    (``error_code``) never has any, nor one canceled before it ever started. A ``scheduled``
    build may still be rendering its pipeline (None: read again with the build). An
    empty list for a build that ran cannot be its DAG: ``JobsUnknown``."""
    if jobs:
        return jobs
    state = text(build.get("state"))
    if text(build.get("error_code")) or (state in TERMINAL_BUILD and not build.get("started_at")):
        return []
    if state == "scheduled":
        return None
    raise JobsUnknown(f"Harmont listed no jobs for a build that is {state or 'in an unknown state'}")


def job_record(data: dict, position: int) -> JobRecord | None:
    job_id = text(data.get("id"))
    if not job_id:
        return None
    raw_state = text(data.get("state"))
    return JobRecord(
        external_id=job_id,
        name=text(data.get("name")) or text(data.get("step_key")) or job_id,
        state=normalise(raw_state, JOB_STATES),
        raw_state=raw_state,
        position=position,
        exit_code=integer(data.get("exit_code")),
        created_at=timestamp(data.get("created_at")),
        started_at=timestamp(data.get("started_at")),
        finished_at=timestamp(data.get("finished_at")),
        depends_on=[d for d in (text(x) for x in items(data.get("depends_on"))) if d],
        # A soft-failed job stays FAILED (its command did fail); the flag says it was allowed.
        allowed_failure=data.get("soft_failed") is True,
        raw=data,
    )


def job_detail(data: dict) -> dict:
    """What the job panel shows of a Job, as plain JSON values."""
    policy = obj(data.get("soft_fail_policy")) or None
    return {
        "state": text(data.get("state")),
        "step_key": text(data.get("step_key")),
        "command": text(data.get("command"), 2000),
        "exit_code": integer(data.get("exit_code")),
        "soft_failed": data.get("soft_failed") is True,
        "error_code": text(data.get("error_code")),
        "error_message": text(data.get("error_message"), 2000),
        "retry_policy": obj(data.get("retry_policy")) or None,
        "soft_fail_policy": policy,
    }


def artifact(data: dict) -> dict:
    """One artifact (an assumed shape: docs/providers/harmont.md, "Artifacts")."""
    url = text(data.get("url"), 2000)
    return {
        "name": text(data.get("name")) or text(data.get("path")) or "artifact",
        "path": text(data.get("path"), 1000),
        "size": integer(data.get("size")),
        "content_type": text(data.get("content_type")),
        # Only web links: a javascript: URL from a provider must never become a link.
        "url": url if url.startswith(("https://", "http://")) else "",
    }
