"""A pipeline as a build, its blocks' jobs as jobs (docs/providers/semaphore.md,
"Pipelines" and "States").

A job depends on every job of the blocks its block depends on (``describe_topology``).
Semaphore creates a block's jobs only when the block is scheduled, so a block that has
not started lists none; but every pipeline has blocks, so a detailed describe without
them (or a block without its ``jobs``) is a bad answer, never "no jobs"."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dashboard.states import State, normalise
from providers.base.errors import BadResponse
from providers.base.parse import items, obj, text, timestamp
from providers.base.records import BuildRecord, JobRecord

from .jobs import timeline

PIPELINE_STATES = {
    "initializing": State.QUEUED,
    "pending": State.QUEUED,
    "queuing": State.QUEUED,
    "running": State.RUNNING,
    "stopping": State.RUNNING,
    "done/passed": State.PASSED,
    "done/failed": State.FAILED,
    "done/stopped": State.CANCELED,
    "done/canceled": State.CANCELED,
}
JOB_STATES = {
    "pending": State.QUEUED,
    "queued": State.QUEUED,
    "enqueued": State.QUEUED,
    "running": State.RUNNING,
    "finished/passed": State.PASSED,
    "finished/failed": State.FAILED,
    "finished/stopped": State.CANCELED,
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def combined_state(state: object, result: object) -> str:
    """``done/passed``: Semaphore's state and, once done, its result, lower-cased (the
    describe answers lower case, the lists upper case)."""
    state_text = text(state).lower()
    result_text = text(result).lower()
    if state_text in ("done", "finished") and result_text not in ("", "none"):
        return f"{state_text}/{result_text}"
    return state_text


def pipeline_of(body: Any, ppl_id: str) -> dict:
    pipeline = obj(body).get("pipeline")
    if not isinstance(pipeline, dict):
        raise BadResponse(f"Semaphore described pipeline {ppl_id} without its 'pipeline'.")
    return pipeline


def blocks_of(body: Any, ppl_id: str) -> list[dict]:
    """The detailed describe's blocks; missing or empty is a bad answer."""
    blocks = obj(body).get("blocks")
    if not isinstance(blocks, list) or not blocks:
        raise BadResponse(f"Semaphore described pipeline {ppl_id} without its blocks.")
    for block in blocks:
        if not isinstance(block, dict) or not isinstance(block.get("jobs"), list):
            raise BadResponse(f"Semaphore described a block of pipeline {ppl_id} without its jobs.")
    return blocks


def web_url(base_url: str, ppl: dict) -> str:
    wf_id, ppl_id = text(ppl.get("wf_id")), text(ppl.get("ppl_id"))
    if not wf_id:
        return ""
    return f"{base_url.rstrip('/')}/workflows/{wf_id}?pipeline_id={ppl_id}"


def build_record(body: Any, ppl_id: str, *, topology: list, project_id: str | None, base_url: str) -> BuildRecord:
    """The pipeline with its jobs (``jobs`` filled; details are added by the adapter)."""
    ppl = pipeline_of(body, ppl_id)
    blocks = blocks_of(body, ppl_id)
    raw_state = combined_state(ppl.get("state"), ppl.get("result"))
    yml = "/".join(p for p in (text(ppl.get("working_directory")), text(ppl.get("yaml_file_name"))) if p)
    project_id = text(ppl.get("project_id")) or project_id
    message = text(ppl.get("commit_message"), 5000)
    record = BuildRecord(
        external_id=text(ppl.get("ppl_id")) or ppl_id,
        state=normalise(raw_state, PIPELINE_STATES),
        raw_state=raw_state,
        created_at=timestamp(ppl.get("created_at")) or timestamp(ppl.get("pending_at")) or EPOCH,
        project_id=project_id or None,
        pipeline_id=f"{project_id}:{yml}" if project_id and yml else None,
        title=(message.splitlines() or [""])[0][:500] or text(ppl.get("name")),
        group_id=text(ppl.get("wf_id")),
        branch=text(ppl.get("branch_name")),
        commit_sha=text(ppl.get("commit_sha"), 64),
        commit_message=message,
        triggered_by="promotion"
        if text(ppl.get("promotion_of"))
        else text(obj(ppl.get("triggerer")).get("ppl_triggered_by")),
        started_at=timestamp(ppl.get("running_at")),
        finished_at=timestamp(ppl.get("done_at")),
        web_url=web_url(base_url, ppl),
        raw={"pipeline": ppl, "blocks": blocks, "topology": topology},
    )
    record.jobs = job_records(blocks, topology)
    return record


def job_records(blocks: list[dict], topology: list) -> list[JobRecord]:
    block_deps = {text(obj(t).get("name")): [text(d) for d in items(obj(t).get("dependencies"))] for t in topology}
    ids_by_block: dict[str, list[str]] = {}
    records: list[JobRecord] = []
    for block in blocks:
        block_name = text(block.get("name"))
        for job in items(block.get("jobs")):
            job = obj(job)
            job_id = text(job.get("job_id"))
            if not job_id:
                continue
            ids_by_block.setdefault(block_name, []).append(job_id)
            raw_state = combined_state(job.get("status"), job.get("result"))
            records.append(
                JobRecord(
                    external_id=job_id,
                    name=text(job.get("name")) or job_id,
                    state=normalise(raw_state, JOB_STATES),
                    raw_state=raw_state,
                    group=block_name,
                    position=len(records),
                    raw={"block_job": job},
                )
            )
    for record in records:
        record.depends_on = [dep_id for dep in block_deps.get(record.group, []) for dep_id in ids_by_block.get(dep, [])]
    return records


def add_detail(record: JobRecord, detail: Any) -> None:
    """Timings and the job spec from describe-job (either API shape)."""
    if not isinstance(detail, dict):
        return
    record.raw["job"] = detail
    moments = timeline(detail)
    record.created_at = moments.get("created")
    record.started_at = moments.get("started")
    record.finished_at = moments.get("finished")


def blocks_view(raw: Any) -> list[dict]:
    """The stored blocks for the page: state, result and why, and their jobs' count."""
    return [
        {
            "name": text(obj(b).get("name")),
            "state": text(obj(b).get("state")).lower(),
            "result": text(obj(b).get("result")).lower(),
            "result_reason": text(obj(b).get("result_reason")).lower(),
            "error": text(obj(b).get("error_description"), 2000),
            "jobs": len(items(obj(b).get("jobs"))),
        }
        for b in items(obj(raw).get("blocks"))
    ]
