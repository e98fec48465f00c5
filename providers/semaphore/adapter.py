"""Semaphore -> neutral models.

A build is a pipeline (grouped by its workflow), its jobs are the jobs of its blocks, and
a job depends on every job of the blocks its block depends on (``describe_topology``).

Sync, per project: re-describe the unfinished pipelines we hold, then list pipelines
newest first with ``created_after`` = the high-water mark, one page per batch, describing
each new one. The cursor records the page reached, so a sync killed mid-way resumes
there; the mark moves only when the scan is complete. A first sync takes at most
``options["backfill_pages"]`` pages (default 3) per project.

Assumption (undocumented): the pipelines list is ordered newest first, as Semaphore's UI
shows it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from dashboard.states import State, normalise
from providers.base.adapter import Adapter, Capability
from providers.base.errors import CONNECTION_ERRORS, NotFound, ProviderError
from providers.base.parse import integer, items, obj, text, timestamp
from providers.base.records import (
    Batch,
    BuildRecord,
    JobRecord,
    LogPiece,
    ProjectRecord,
    SyncContext,
    UnfinishedBuild,
)

from .agents import AgentsAdapterMixin, connection_panel_context
from .client import SemaphoreClient
from .deployments import DeploymentsAdapterMixin, project_panel_context
from .jobs import JOB_ACTIONS, JobsAdapterMixin, active_job_row, job_view
from .retention import RetentionAdapterMixin
from .workflows import WORKFLOW_ACTIONS, WorkflowsAdapterMixin

if TYPE_CHECKING:
    from dashboard.models import Job

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
PAGE_SIZE = 30


def combined_state(state: object, result: object) -> str:
    state_text = text(state).lower()
    result_text = text(result).lower()
    if state_text in ("done", "finished") and result_text not in ("", "none"):
        return f"{state_text}/{result_text}"
    return state_text


class SemaphoreAdapter(
    WorkflowsAdapterMixin, JobsAdapterMixin, AgentsAdapterMixin, DeploymentsAdapterMixin, RetentionAdapterMixin, Adapter
):
    kind = "semaphore"
    client_class = SemaphoreClient
    capabilities = frozenset(
        {
            Capability.LOGS,
            Capability.LIVE_LOGS,
            Capability.JOB_DAG,
            Capability.AGENTS,
            Capability.DEPLOYMENTS,
            Capability.RETENTION,
        }
    )
    actions = (
        *WORKFLOW_ACTIONS,
        *JOB_ACTIONS,
        *AgentsAdapterMixin.AGENTS_ACTIONS,
        *DeploymentsAdapterMixin.DEPLOYMENTS_ACTIONS,
        *RetentionAdapterMixin.RETENTION_ACTIONS,
    )
    live_panels = frozenset({"build_panel", "connection_extra", "project_extra", "connection_panel", "project_panel"})
    client: SemaphoreClient

    # Connection check ------------------------------------------------------------------
    def check(self) -> str:
        projects = list(self.project_list())
        return f"ok: {len(projects)} project(s) visible"

    def project_list(self) -> Iterator[tuple[str, str, dict]]:
        configured = self.options.get("project_ids")
        if isinstance(configured, list) and configured:
            for project_id in configured:
                yield str(project_id), str(project_id), {}
            return
        for raw in self.client.projects():
            meta = obj(obj(raw).get("metadata"))
            project_id = text(meta.get("id"))
            if project_id:
                yield project_id, text(meta.get("name")) or project_id, raw

    # Sync ------------------------------------------------------------------------------
    def sync(self, ctx: SyncContext) -> Iterator[Batch]:
        cursor = {"projects": dict(obj(ctx.cursor.get("projects")))}
        projects = [ProjectRecord(pid, name, raw) for pid, name, raw in self.project_list()]
        yield Batch(projects=projects)

        for stale in _chunks(ctx.unfinished, 20):
            batch = Batch()
            for build in stale:
                try:
                    record = self.attempt(
                        batch, f"pipeline {build.external_id}", self.describe, build.external_id, previous=build
                    )
                except NotFound:
                    batch.gone_builds.append(build.external_id)
                    continue
                if record:
                    batch.builds.append(record)
            yield batch

        for project in projects:
            yield from self.scan_project(project.external_id, cursor, ctx)
        yield from self.sync_agents(projects)
        yield from self.sync_deployments(projects)
        yield from self.sync_retention(projects)

    def scan_project(self, project_id: str, cursor: dict, ctx: SyncContext) -> Iterator[Batch]:
        state = dict(obj(cursor["projects"].get(project_id)))
        hwm = state.get("hwm")
        scan = dict(obj(state.get("scan"))) or {"page": 1, "top": hwm}
        limit = None if hwm is not None else int(self.options.get("backfill_pages", 3))
        while True:
            page = int(scan["page"])
            listed, more = self.client.pipelines(
                project_id,
                page=page,
                page_size=PAGE_SIZE,
                created_after=int(hwm) - 1 if hwm is not None else None,
            )
            batch = Batch()
            listed = [obj(item) for item in listed]
            finished = ctx.finished_ids([text(item.get("ppl_id")) for item in listed])
            for item in listed:
                ppl_id = text(item.get("ppl_id"))
                if not ppl_id:
                    batch.problems.append("a pipeline without ppl_id was skipped")
                    continue
                if ppl_id in finished:
                    continue
                created = timestamp(item.get("created_at"))
                if created is not None and (scan["top"] is None or created.timestamp() > scan["top"]):
                    scan["top"] = created.timestamp()
                record = self.attempt(batch, f"pipeline {ppl_id}", self.describe, ppl_id)
                if record:
                    batch.builds.append(record)
            done = not more or not listed or (limit is not None and page >= limit)
            if done:
                state = {"hwm": scan["top"] if scan["top"] is not None else hwm}
            else:
                scan["page"] = page + 1
                state = {"hwm": hwm, "scan": dict(scan)}
            cursor["projects"][project_id] = state
            batch.cursor = {"projects": dict(cursor["projects"])}
            yield batch
            if done:
                return

    def describe(self, ppl_id: str, previous: UnfinishedBuild | None = None) -> BuildRecord:
        body = self.client.pipeline(ppl_id, detailed=True)
        ppl = obj(body.get("pipeline"))
        raw = {"pipeline": ppl, "blocks": items(body.get("blocks"))}
        topology = obj(previous.raw).get("topology") if previous else None
        if not isinstance(topology, list):
            try:
                topology = self.client.topology(ppl_id)
            except CONNECTION_ERRORS:
                raise
            except ProviderError:
                topology = []  # the graph is a nicety; the build is still worth keeping
        raw["topology"] = topology
        raw_state = combined_state(ppl.get("state"), ppl.get("result"))
        yml = "/".join(p for p in (text(ppl.get("working_directory")), text(ppl.get("yaml_file_name"))) if p)
        project_id = text(ppl.get("project_id")) or (previous.project_id if previous else None)
        message = text(ppl.get("commit_message"), 5000)
        record = BuildRecord(
            external_id=ppl_id,
            state=normalise(raw_state, PIPELINE_STATES),
            raw_state=raw_state,
            created_at=timestamp(ppl.get("created_at")) or timestamp(ppl.get("pending_at")) or _epoch(),
            project_id=project_id,
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
            web_url=self.web_url(ppl),
            raw=raw,
        )
        record.jobs = self.jobs_of(raw, previous)
        return record

    def jobs_of(self, raw: dict, previous: UnfinishedBuild | None) -> list[JobRecord]:
        known = previous.jobs if previous else {}
        block_deps = {
            text(obj(t).get("name")): [text(d) for d in items(obj(t).get("dependencies"))] for t in raw["topology"]
        }
        ids_by_block: dict[str, list[str]] = {}
        records: list[JobRecord] = []
        position = 0
        for block in raw["blocks"]:
            block = obj(block)
            block_name = text(block.get("name"))
            for job in items(block.get("jobs")):
                job = obj(job)
                job_id = text(job.get("job_id"))
                if not job_id:
                    continue
                ids_by_block.setdefault(block_name, []).append(job_id)
                raw_state = combined_state(job.get("status"), job.get("result"))
                record = JobRecord(
                    external_id=job_id,
                    name=text(job.get("name")) or job_id,
                    state=normalise(raw_state, JOB_STATES),
                    raw_state=raw_state,
                    group=block_name,
                    position=position,
                    raw={"block_job": job},
                )
                position += 1
                self.add_job_details(record, known.get(job_id))
                records.append(record)
        for record in records:
            record.depends_on = [
                dep_id for dep in block_deps.get(record.group, []) for dep_id in ids_by_block.get(dep, [])
            ]
        return records

    def add_job_details(self, record: JobRecord, stored: dict | None) -> None:
        """Timings and the job spec come from describe-job: fetched once the job runs and
        once more when it finishes, then never again."""
        stored_detail = obj(obj(stored).get("raw")).get("job") if stored else None
        stored_state = obj(stored).get("state")
        if (
            record.state == State.QUEUED
            or not self.options.get("job_details", True)
            or (
                stored_detail
                and (stored_state == record.state or (stored_state == State.RUNNING and record.state == State.RUNNING))
            )
        ):
            detail = stored_detail
        else:
            try:
                detail = self.describe_job(record.external_id)
            except CONNECTION_ERRORS:
                raise
            except ProviderError:
                detail = stored_detail
        if not isinstance(detail, dict):
            return
        record.raw["job"] = detail
        times = dict((job_view(detail) or {}).get("timeline", []))  # either jobs API shape
        record.created_at = times.get("created")
        record.started_at = times.get("started")
        record.finished_at = times.get("finished")

    def web_url(self, ppl: dict) -> str:
        wf_id, ppl_id = text(ppl.get("wf_id")), text(ppl.get("ppl_id"))
        if not wf_id:
            return ""
        return f"{self.connection.base_url.rstrip('/')}/workflows/{wf_id}?pipeline_id={ppl_id}"

    # Panels ------------------------------------------------------------------------------
    def panel_context(self, target, request, name: str) -> dict:
        if name == "build_panel":
            return {"promotions": self.client.promotions(target.external_id)}
        if name == "job_panel":
            return {"spec": job_view(target.raw.get("job") if isinstance(target.raw, dict) else None)}
        if name == "connection_extra":
            return {"active_jobs": [active_job_row(j) for j in self.active_jobs()[:50]], "jobs_api": self.jobs_api}
        if name == "project_extra":
            return self.pipeline_search_context(target, request)
        if name == "connection_panel":
            return connection_panel_context(self, target, request)
        if name == "project_panel":
            return project_panel_context(self, target, request)
        return {}

    # Logs ------------------------------------------------------------------------------
    def fetch_log(self, job: Job, cursor: dict) -> LogPiece:
        seen = integer(cursor.get("events")) or 0
        try:
            response = self.job_log_response(job.external_id)
        except NotFound:
            # Not started yet, or it never ran: nothing to show so far.
            return LogPiece("", cursor, complete=job.finished)
        if response.is_redirect:
            # Self-hosted agents' logs live behind a tokenised URL; it is plain text.
            location = response.headers.get("location", "")
            raw_text = self.client.http.get(location).text if location else ""
            return LogPiece(raw_text, {"events": seen, "redirect": True}, complete=True)
        events = items(obj(self.client.parse_json(response)).get("events"))
        new = events[seen:]
        exit_code = None
        complete = False
        for event in new:
            event = obj(event)
            if event.get("event") == "cmd_finished" and integer(event.get("exit_code")):
                exit_code = integer(event.get("exit_code"))
            if event.get("event") == "job_finished":
                complete = True
        return LogPiece(render_events(new), {"events": len(events)}, complete=complete, exit_code=exit_code)


def render_events(events: list) -> str:
    """Semaphore's log events as terminal text: each command as a bold header, its output
    as sent, a non-zero exit code in red."""
    out: list[str] = []
    for event in events:
        event = obj(event)
        kind = event.get("event")
        if kind == "cmd_started":
            out.append(f"\x1b[1m$ {text(event.get('directive'), 2000)}\x1b[0m\n")
        elif kind == "cmd_output":
            out.append(text(event.get("output"), 1_000_000))
        elif kind == "cmd_finished":
            code = integer(event.get("exit_code"))
            if code:
                out.append(f"\x1b[31mexit code {code}\x1b[0m\n")
        elif kind == "job_finished":
            out.append(f"\x1b[2mJob {text(event.get('result')) or 'finished'}\x1b[0m\n")
    return "".join(out)


def _chunks(seq: list, size: int) -> Iterator[list]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def _epoch():
    from datetime import UTC, datetime

    return datetime(1970, 1, 1, tzinfo=UTC)
