"""Jobs platform -> neutral models: a job definition is a Pipeline (and a Schedule when it
has a cron), a run is a Build whose single Job is the run itself.

Sync: re-poll the unfinished runs we hold (GET run: "safe to poll"), then per project
list the jobs and, per job, read its status (latest run, counts, cron, next fire). Runs
are listed only when the latest run is one we do not hold yet (or a scheduled job's last
fire is not known); new runs are taken newest first until the first one we already hold
as finished, at most ``options["backfill_runs"]`` (100) per job per sync. Jobs that
disappear from the list lose their Pipeline and Schedule rows.

The cursor remembers, per project, the jobs seen and, per job, whether it had a
schedule and when the schedule last fired, so a quiet sync costs two requests per job
plus one per unfinished run, and writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dashboard.states import FINISHED
from providers.base.adapter import Adapter, Capability
from providers.base.client import BaseClient
from providers.base.errors import NotFound, Rejected
from providers.base.parse import integer, obj, text, timestamp
from providers.base.records import (
    Batch,
    BuildRecord,
    LogPiece,
    PipelineRecord,
    ProjectRecord,
    SyncContext,
    UnfinishedBuild,
)

from . import contract as c
from .actions import JobActions
from .client import JobsPlatformClient
from .mapping import (
    build_record,
    newest_scheduled,
    pipeline_external_id,
    run_external_id,
    run_state,
    schedule_facts,
    schedule_record,
    split_run_id,
    stored_job,
)
from .panel import JobPanel

if TYPE_CHECKING:
    from dashboard.models import Job

BACKFILL_RUNS = 100
REPOLL_CHUNK = 20


class JobsPlatformAdapter(JobActions, JobPanel, Adapter):
    kind = "jobsplatform"
    client_class = JobsPlatformClient
    capabilities = frozenset({Capability.LOGS, Capability.LIVE_LOGS, Capability.SCHEDULES, Capability.METRICS})
    live_panels = frozenset({"pipeline_panel"})
    client: JobsPlatformClient

    @property
    def workspace_id(self) -> str:
        return text(self.options.get("workspace_id"))

    def make_client(self, **kwargs: Any) -> BaseClient:
        client = super().make_client(**kwargs)
        client.workspace_id = self.workspace_id  # type: ignore[attr-defined]
        return client

    # Connection check ----------------------------------------------------------------------
    def check(self) -> str:
        projects = self.project_list()
        jobs = sum(len(self.client.jobs(project_id)) for project_id, _ in projects)
        return f"ok: {jobs} job(s) in {len(projects)} project(s) of workspace {self.workspace_id}"

    def project_list(self) -> list[tuple[str, str]]:
        """(id, name) of the projects to sync: ``options["project_ids"]``, or else the
        workspace's project list (an endpoint the docs do not show; see contract.py)."""
        if not self.workspace_id:
            raise Rejected("Set options.workspace_id on this connection (the workspace whose jobs to show).")
        configured = self.options.get("project_ids")
        if isinstance(configured, list) and configured:
            return [(str(p), str(p)) for p in configured]
        try:
            listed = self.client.projects()
        except NotFound as exc:
            raise Rejected(
                f"Could not list the projects of workspace {self.workspace_id} ({exc}): "
                "check options.workspace_id, or set options.project_ids."
            ) from exc
        projects = [(text(obj(p).get(c.PROJECT_ID)), text(obj(p).get(c.NAME))) for p in listed]
        return [(pid, name or pid) for pid, name in projects if pid]

    # Sync ------------------------------------------------------------------------------------
    def sync(self, ctx: SyncContext) -> Iterator[Batch]:
        projects = self.project_list()
        yield Batch(projects=[ProjectRecord(pid, name, {"workspace_id": self.workspace_id}) for pid, name in projects])

        held = {build.external_id for build in ctx.unfinished}
        for start in range(0, len(ctx.unfinished), REPOLL_CHUNK):
            batch = Batch()
            for build in ctx.unfinished[start : start + REPOLL_CHUNK]:
                self.attempt(batch, f"run {build.external_id}", self.repoll, build, batch)
            yield batch

        cursor = {"projects": dict(obj(ctx.cursor.get("projects")))}
        for project_id, _ in projects:
            yield from self.sync_project(project_id, cursor, ctx, held)

    def repoll(self, build: UnfinishedBuild, batch: Batch) -> None:
        raw = obj(build.raw)
        job_id, run_id = split_run_id(build.external_id)
        project_id = text(raw.get("project_id")) or build.project_id or ""
        try:
            run = self.client.run(project_id, job_id, run_id)
        except NotFound:
            batch.gone_builds.append(build.external_id)  # deleted with its job
            return
        record = build_record(project_id, job_id, text(raw.get("job_name")), run)
        if record:
            batch.builds.append(record)

    def sync_project(self, project_id: str, cursor: dict, ctx: SyncContext, held: set[str]) -> Iterator[Batch]:
        known = obj(obj(cursor["projects"].get(project_id)).get("jobs"))
        closing = Batch()
        jobs = self.attempt(closing, f"jobs of project {project_id}", self.client.jobs, project_id)
        if jobs is None:
            yield closing  # without the list we cannot tell which jobs are gone
            return
        memory: dict[str, dict] = {}
        for job in map(obj, jobs):
            job_id = text(job.get(c.JOB_ID))
            if not job_id:
                closing.problems.append(f"a job without {c.JOB_ID} in project {project_id} was skipped")
                continue
            batch = Batch()
            remembered = obj(known.get(job_id))
            label = f"job {text(job.get(c.NAME)) or job_id}"
            memory[job_id] = (
                self.attempt(batch, label, self.sync_job, project_id, job, remembered, ctx, held, batch) or remembered
            )
            yield batch
        for job_id in known.keys() - memory.keys():
            external_id = pipeline_external_id(project_id, job_id)
            closing.removed += [("pipeline", external_id), ("schedule", external_id)]
        cursor["projects"][project_id] = {"jobs": memory}
        closing.cursor = {"projects": dict(cursor["projects"])}
        yield closing

    def sync_job(
        self, project_id: str, job: dict, remembered: dict, ctx: SyncContext, held: set[str], batch: Batch
    ) -> dict:
        """One job's definition, schedule and new runs into ``batch``; what to remember."""
        job_id = text(job.get(c.JOB_ID))
        status = self.client.job_status(project_id, job_id)
        scheduled = bool(text(status.get(c.SCHEDULE)) or text(job.get(c.SCHEDULE)))
        latest = obj(status.get(c.LATEST_RUN))
        latest_id = run_external_id(job_id, text(latest.get(c.RUN_ID))) if latest.get(c.RUN_ID) else ""
        last_fire = timestamp(remembered.get("last_fire"))
        unseen = bool(latest_id) and latest_id not in held and not ctx.finished_ids([latest_id])
        if unseen or (scheduled and "last_fire" not in remembered):
            runs = [obj(r) for r in self.client.runs(project_id, job_id)]
            batch.builds += self.new_builds(project_id, job, runs, ctx, held)
            last_fire = newest_scheduled(runs)
        elif text(latest.get(c.TRIGGER)) == c.SCHEDULED:
            created = timestamp(latest.get(c.CREATED_AT))
            last_fire = max(filter(None, (last_fire, created)), default=None)
        self.add_definition(batch, project_id, job, status, last_fire, remembered)
        return {"scheduled": scheduled, "last_fire": c.format_time(last_fire) if last_fire else None}

    def add_definition(
        self, batch: Batch, project_id: str, job: dict, status: dict, last_fire: datetime | None, remembered: dict
    ) -> None:
        job_id = text(job.get(c.JOB_ID))
        external_id = pipeline_external_id(project_id, job_id)
        name = text(job.get(c.NAME), 255) or job_id
        batch.pipelines.append(PipelineRecord(external_id, name, project_id, raw={"job": stored_job(job)}))
        now = self.client.server_time or datetime.now(UTC)
        facts = schedule_facts(job, status, last_fire, now)
        if facts:
            batch.schedules.append(schedule_record(project_id, job, status, facts))
        elif remembered.get("scheduled", True):
            batch.removed.append(("schedule", external_id))

    def definition_batch(self, project_id: str, job: dict) -> Batch:
        """A job's Pipeline and Schedule rows right after an action changed it."""
        status = self.client.job_status(project_id, text(job.get(c.JOB_ID)))
        latest = obj(status.get(c.LATEST_RUN))
        last_fire = timestamp(latest.get(c.CREATED_AT)) if text(latest.get(c.TRIGGER)) == c.SCHEDULED else None
        batch = Batch()
        self.add_definition(batch, project_id, job, status, last_fire, {})
        return batch

    def new_builds(
        self, project_id: str, job: dict, runs: list[dict], ctx: SyncContext, held: set[str]
    ) -> list[BuildRecord]:
        """Runs we do not hold yet, newest first, up to the first one held as finished."""
        job_id, name = text(job.get(c.JOB_ID)), text(job.get(c.NAME))
        cap = integer(self.options.get("backfill_runs")) or BACKFILL_RUNS
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        runs = sorted(runs, key=lambda r: timestamp(r.get(c.CREATED_AT)) or epoch, reverse=True)
        ids = [run_external_id(job_id, text(r.get(c.RUN_ID))) for r in runs]
        finished = ctx.finished_ids(ids[: cap + len(held) + 1])
        records: list[BuildRecord] = []
        for external_id, run in zip(ids, runs, strict=True):
            if external_id in finished or len(records) >= cap:
                break
            if external_id in held:
                continue
            record = build_record(project_id, job_id, name, run)
            if record:
                records.append(record)
        return records

    # Logs ----------------------------------------------------------------------------------
    def fetch_log(self, job: Job, cursor: dict) -> LogPiece:
        """The run's stdout and stderr after ``cursor`` (stderr in ANSI red); complete once
        the run had ended before its lines were read. The cursor is the last line's
        timestamp and how many lines at that timestamp we already hold."""
        project_id, job_id, run_id = self.address(job)
        run: dict | None = None
        try:
            complete = job.finished
            if not complete:
                run = self.client.run(project_id, job_id, run_id or "")
                complete = run_state(run)[0] in FINISHED
            after = timestamp(cursor.get("after"))
            entries = self.client.run_log_after(project_id, job_id, run_id or "", after)
        except NotFound:
            note = "" if cursor.get("gone") else "\x1b[2mThe run no longer exists at the platform.\x1b[0m\n"
            return LogPiece(note, {**cursor, "gone": True}, complete=True)
        if after is not None:
            skip = integer(cursor.get("skip")) or 0
            at_mark = [e for e in entries if timestamp(e.get(c.TIMESTAMP)) == after]
            entries = at_mark[skip:] + [e for e in entries if timestamp(e.get(c.TIMESTAMP)) != after]
        new_cursor = dict(cursor)
        if entries:
            last = timestamp(entries[-1].get(c.TIMESTAMP))
            same = sum(1 for e in entries if timestamp(e.get(c.TIMESTAMP)) == last)
            if last == after:
                same += integer(cursor.get("skip")) or 0
            new_cursor = {"after": c.format_time(last) if last else cursor.get("after"), "skip": same}
        out = render_entries(entries)
        exit_code = integer(run.get(c.EXIT_CODE)) if run else None
        if complete:
            out += footer(run, job)
        return LogPiece(out, new_cursor, complete=complete, exit_code=exit_code)


def render_entries(entries: list[dict]) -> str:
    """One line per entry; stderr in red, so the stored log keeps the two apart."""
    out = []
    for entry in entries:
        line = text(entry.get(c.LINE), 100_000).rstrip("\n")
        out.append(f"\x1b[31m{line}\x1b[0m\n" if entry.get(c.STREAM) == c.STDERR else f"{line}\n")
    return "".join(out)


def footer(run: dict | None, job: Job) -> str:
    state = text(run.get(c.RUN_STATUS)) if run else job.raw_state or job.state
    code = integer(run.get(c.EXIT_CODE)) if run else job.exit_code
    return f"\x1b[2mRun {state}" + (f", exit code {code}" if code is not None else "") + "\x1b[0m\n"
