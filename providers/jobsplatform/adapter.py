"""The jobs platform's sync and logs, on the base skeleton (docs/providers/jobsplatform.md,
"Sync" and "Logs").

A sync: the projects (named in ``options["project_ids"]`` or listed; their names are
asked for either way), then the runs we hold that must be read again (``repoll``: GET
run, "safe to poll"), then per project the job list and per job its status (latest run,
run counts, cron, next fire). A job's runs are listed only when its status shows
something we have not seen (a latest run we do not hold, a different run count); new
runs are taken newest first until the first one held as finished; of a job's history,
at most ``options["backfill_runs"]`` (100) are read, at its first sync.

Deletions are never taken from one answer: a well-formed job list is a ``Listing`` of
the project's pipelines and schedules, a runs list one of the job's builds, and a run
that answers 404 is weighed by the base (``weigh_missing``). The engine believes them
only when they hold (``dashboard.evidence``).

The cursor remembers, per project and job, when the schedule last fired and how many
runs the platform counted, so a quiet sync costs the project list, one job list per
project and one status per job, plus one read per unfinished run, and writes nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from dashboard.states import FINISHED
from providers.base.adapter import Adapter, Capability, Scope, chunks
from providers.base.client import BaseClient
from providers.base.errors import BadResponse, NotFound, PermissionDenied, Rejected
from providers.base.parse import integer, obj, text, timestamp
from providers.base.records import (
    Batch,
    BuildRecord,
    HeldBuild,
    Listing,
    LogPiece,
    PipelineRecord,
    ProjectRecord,
    SyncContext,
)

from . import contract as c
from .actions import actions
from .client import JobsPlatformClient
from .mapping import (
    build_record,
    newest_scheduled,
    pipeline_external_id,
    run_external_id,
    run_state,
    schedule_facts,
    schedule_record,
    split_pipeline_id,
    split_run_id,
    stored_job,
)
from .panels import panels

if TYPE_CHECKING:
    from dashboard.models import Job

BACKFILL_RUNS = 100
FINISHED_LOOKUP = 500  # run ids asked about at once: "which of these do we hold as finished?"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A finished run's log is final only this long after it ended: log lines may reach the
# platform's log store a little after the run's state does.
LOG_SETTLE = timedelta(seconds=30)


class JobsPlatformAdapter(Adapter):
    kind = "jobsplatform"
    client_class = JobsPlatformClient
    capabilities = frozenset({Capability.LOGS, Capability.LIVE_LOGS, Capability.SCHEDULES, Capability.METRICS})
    actions = actions
    panels = panels
    client: JobsPlatformClient

    @property
    def workspace_id(self) -> str:
        return text(self.options.get("workspace_id"))

    def make_client(self, **kwargs: Any) -> BaseClient:
        client = super().make_client(**kwargs)
        client.workspace_id = self.workspace_id  # type: ignore[attr-defined]
        return client

    # Projects ------------------------------------------------------------------------------
    def check(self) -> str:
        scopes, _ = self.projects(None)
        jobs = sum(len(self.client.jobs(scope.external_id)) for scope in scopes)
        return f"ok: {jobs} job(s) in {len(scopes)} project(s) of workspace {self.workspace_id}"

    def list_projects(self) -> list[Scope]:
        """The workspace's projects (an endpoint the platform's docs do not show:
        docs/providers/jobsplatform.md, "What we assume")."""
        try:
            listed = self.client.projects()
        except NotFound as exc:
            raise Rejected(
                f"Could not list the projects of workspace {self.workspace_id} ({exc}): "
                "check options.workspace_id, or set options.project_ids."
            ) from exc
        found = [Scope(text(obj(p).get(c.PROJECT_ID)), text(obj(p).get(c.NAME), 255)) for p in listed]
        return [Scope(s.external_id, s.name or s.external_id) for s in found if s.external_id]

    def projects(self, ctx: SyncContext | None) -> tuple[list[Scope], Batch]:
        """The projects to sync with their names, and a batch with their records (and,
        when they were listed, the listing). Projects named in the options are shown by
        name too: the project list is asked for them, and when it cannot be read the
        names stored before (or else the ids) are kept."""
        if not self.workspace_id:
            raise Rejected("Set options.workspace_id on this connection (the workspace whose jobs to show).")
        scopes, batch = self.scopes("project_ids", self.list_projects)
        if not batch.listings:
            names = self.project_names(ctx, batch)
            scopes = [Scope(s.external_id, names.get(s.external_id) or s.external_id) for s in scopes]
        batch.projects = [ProjectRecord(s.external_id, s.name, {"workspace_id": self.workspace_id}) for s in scopes]
        return scopes, batch

    def project_names(self, ctx: SyncContext | None, batch: Batch) -> dict[str, str]:
        rows = ctx.stored("project", ("external_id", "name")) if ctx else []
        stored = {row["external_id"]: row["name"] for row in rows}
        try:
            listed = self.client.projects()
        except (NotFound, PermissionDenied):
            return stored  # the platform does not offer the list (or not to this token)
        except BadResponse as exc:
            batch.problems.append(f"project names: {exc}")
            return stored
        names = {text(obj(p).get(c.PROJECT_ID)): text(obj(p).get(c.NAME), 255) for p in listed}
        return {**stored, **{pid: name for pid, name in names.items() if pid and name}}

    # Sync ------------------------------------------------------------------------------------
    def sync(self, ctx: SyncContext) -> Iterator[Batch]:
        scopes, batch = self.projects(ctx)
        yield batch
        yield from self.repoll(ctx)
        seen = {held.external_id for held in ctx.repoll}
        cursor = {"projects": dict(obj(ctx.cursor.get("projects")))}
        # Every project's jobs are asked for at once.
        ids = [scope.external_id for scope in scopes]
        for project_id, jobs_of in zip(ids, self.client.read_ahead_each(self.client.jobs, ids), strict=True):
            yield from self.sync_project(project_id, cursor, ctx, seen, jobs_of)

    def read_build(self, held: HeldBuild) -> BuildRecord | None:
        raw = obj(held.raw)
        job_id, run_id = split_run_id(held.external_id)
        project_id = text(raw.get("project_id")) or held.project_id or ""
        run = self.client.run(project_id, job_id, run_id)  # NotFound: weighed by the base
        record = build_record(project_id, job_id, text(raw.get("job_name")), run)
        if record is None:
            raise BadResponse(f"Unexpected answer: the run {run_id} came without its {c.RUN_ID}.")
        return record

    def sync_project(
        self, project_id: str, cursor: dict, ctx: SyncContext, seen: set[str], jobs_of: Callable[[], list]
    ) -> Iterator[Batch]:
        """``jobs_of()`` answers the project's jobs (read ahead), or raises what reading them raised."""
        known = obj(obj(cursor["projects"].get(project_id)).get("jobs"))
        closing = Batch()
        jobs = self.attempt(closing, f"jobs of project {project_id}", jobs_of)
        if jobs is None:
            yield closing  # without the list nothing is known about its jobs: all kept
            return
        memory: dict[str, dict] = {}
        listed: set[str] = set()
        scheduled: set[str] = set()
        # Every job's status is asked for at once: a quiet sync asks for nothing more.
        ids = [job_id for job in jobs if (job_id := text(obj(job).get(c.JOB_ID)))]
        statuses = dict(
            zip(ids, self.client.read_ahead_each(lambda j: self.client.job_status(project_id, j), ids), strict=True)
        )
        for job in jobs:
            job = obj(job)
            job_id = text(job.get(c.JOB_ID))
            if not job_id:
                closing.problems.append(f"a job without {c.JOB_ID} in project {project_id} was skipped")
                continue
            external_id = pipeline_external_id(project_id, job_id)
            listed.add(external_id)
            if text(job.get(c.SCHEDULE)):
                scheduled.add(external_id)
            batch = Batch()
            remembered = obj(known.get(job_id))
            label = f"job {text(job.get(c.NAME)) or job_id}"
            memory[job_id] = self.attempt(
                batch, label, self.sync_job, ctx, project_id, job, remembered, seen, batch, statuses[job_id]
            )
            if memory[job_id] is None:
                memory[job_id] = remembered  # read again at the next sync
            elif memory[job_id].get("scheduled"):
                scheduled.add(external_id)
            yield batch
        if not closing.problems:
            # Complete and well-formed (the docs show no paging): what it lacks may be gone.
            scope = {"project": project_id}
            closing.listings += [Listing("pipeline", listed, scope), Listing("schedule", scheduled, scope)]
        cursor["projects"][project_id] = {"jobs": memory}
        closing.cursor = {"projects": dict(cursor["projects"])}
        yield closing

    def sync_job(
        self,
        ctx: SyncContext,
        project_id: str,
        job: dict,
        remembered: dict,
        seen: set[str],
        batch: Batch,
        status_of: Callable[[], dict],
    ) -> dict:
        """One job's definition, schedule and new runs into ``batch``; what to remember.
        ``status_of()`` answers the job's status (read ahead), or raises what reading it raised."""
        job_id = text(job.get(c.JOB_ID))
        status = status_of()
        scheduled = bool(text(status.get(c.SCHEDULE)) or text(job.get(c.SCHEDULE)))
        latest = obj(status.get(c.LATEST_RUN))
        latest_id = run_external_id(job_id, text(latest.get(c.RUN_ID))) if latest.get(c.RUN_ID) else ""
        total = integer(obj(status.get(c.RUN_COUNTS)).get(c.TOTAL))
        last_fire = timestamp(remembered.get("last_fire"))
        unseen = bool(latest_id) and latest_id not in seen and not ctx.finished_ids([latest_id])
        counted = total is not None and total != remembered.get("total")
        if unseen or counted or (scheduled and "last_fire" not in remembered):
            runs = [obj(r) for r in self.client.runs(project_id, job_id)]
            batch.builds += self.new_builds(project_id, job, runs, ctx, seen, first=not remembered)
            ids = {run_external_id(job_id, text(r.get(c.RUN_ID))) for r in runs if text(r.get(c.RUN_ID))}
            if len(ids) == len(runs):  # a run without its id spoils the listing as evidence
                batch.listings.append(Listing("build", ids, {"pipeline": pipeline_external_id(project_id, job_id)}))
            else:
                batch.problems.append(f"{len(runs) - len(ids)} run(s) of job {job_id} came without {c.RUN_ID}")
            last_fire = newest_scheduled(runs)
        else:
            total = remembered.get("total")
            if text(latest.get(c.TRIGGER)) == c.SCHEDULED:
                created = timestamp(latest.get(c.CREATED_AT))
                last_fire = max(filter(None, (last_fire, created)), default=None)
        self.add_definition(batch, project_id, job, status, last_fire)
        return {"scheduled": scheduled, "last_fire": c.format_time(last_fire) if last_fire else None, "total": total}

    def add_definition(
        self, batch: Batch, project_id: str, job: dict, status: dict, last_fire: datetime | None
    ) -> bool:
        """The job's Pipeline, and its Schedule when it has one (True then)."""
        job_id = text(job.get(c.JOB_ID))
        external_id = pipeline_external_id(project_id, job_id)
        name = text(job.get(c.NAME), 255) or job_id
        batch.pipelines.append(PipelineRecord(external_id, name, project_id, raw={"job": stored_job(job)}))
        now = self.client.server_time or datetime.now(UTC)
        facts = schedule_facts(job, status, last_fire, now)
        if facts:
            batch.schedules.append(schedule_record(project_id, job, status, facts))
        return bool(facts)

    def definition_batch(self, project_id: str, job: dict) -> Batch:
        """A job's Pipeline and Schedule rows right after an action changed it (a
        schedule the action removed is gone: we removed it)."""
        status = self.client.job_status(project_id, text(job.get(c.JOB_ID)))
        latest = obj(status.get(c.LATEST_RUN))
        last_fire = timestamp(latest.get(c.CREATED_AT)) if text(latest.get(c.TRIGGER)) == c.SCHEDULED else None
        batch = Batch()
        if not self.add_definition(batch, project_id, job, status, last_fire):
            batch.removed.append(("schedule", pipeline_external_id(project_id, text(job.get(c.JOB_ID)))))
        return batch

    def new_builds(
        self, project_id: str, job: dict, runs: list[dict], ctx: SyncContext, seen: set[str], *, first: bool
    ) -> list[BuildRecord]:
        """Runs we do not hold yet, newest first, down to the first one held as finished;
        on a job's ``first`` sync at most ``backfill_runs`` of its history."""
        job_id, name = text(job.get(c.JOB_ID)), text(job.get(c.NAME))
        cap = (integer(self.options.get("backfill_runs")) or BACKFILL_RUNS) if first else None
        runs = sorted(runs, key=lambda r: timestamp(r.get(c.CREATED_AT)) or EPOCH, reverse=True)
        listed = [(run_external_id(job_id, text(r.get(c.RUN_ID))), r) for r in runs]
        records: list[BuildRecord] = []
        for part in chunks(listed, FINISHED_LOOKUP):
            finished = ctx.finished_ids([external_id for external_id, _ in part])
            for external_id, run in part:
                if external_id in finished or (cap is not None and len(records) >= cap):
                    return records
                if external_id in seen:
                    continue
                record = build_record(project_id, job_id, name, run)
                if record:
                    records.append(record)
        return records

    # Where a row lives at the platform -----------------------------------------------------------
    def address(self, target: Any) -> tuple[str, str, str | None]:
        """(project id, job id, run id or None) of a Pipeline, Build or Job row."""
        from dashboard.models import Build, Job, Pipeline

        if isinstance(target, Pipeline):
            project_id, job_id = split_pipeline_id(target.external_id)
            return project_id, job_id, None
        if isinstance(target, Build | Job):
            job_id, run_id = split_run_id(target.external_id)
            project_id = text(obj(target.raw).get("project_id"))
            if not project_id:
                build = target if isinstance(target, Build) else target.build
                project_id = build.project.external_id if build.project_id else ""
            return project_id, job_id, run_id
        raise TypeError(f"no logs for a {type(target).__name__}")

    # Logs ----------------------------------------------------------------------------------
    def fetch_log(self, job: Job, cursor: dict) -> LogPiece:
        """The run's stdout and stderr after ``cursor`` (stderr in ANSI red); complete once
        the run ended a while (``LOG_SETTLE``) before its lines were read. The cursor is
        the last line's timestamp and how many lines at that timestamp we already hold.
        Within the client's bounds: a page view's read stops at its small budget, with
        the reason in words (a ``ProviderError``), never a loop."""
        project_id, job_id, run_id = self.address(job)
        run: dict | None = None
        try:
            ended = (job.finished_at or EPOCH) if job.finished else None
            if not job.finished:
                run = self.client.run(project_id, job_id, run_id or "")
                if run_state(run)[0] in FINISHED:
                    ended = timestamp(run.get(c.FINISHED_AT)) or EPOCH
            after = timestamp(cursor.get("after"))
            entries = self.client.run_log_after(project_id, job_id, run_id or "", after)
        except NotFound:
            note = "" if cursor.get("gone") else "\x1b[2mThe run no longer exists at the platform.\x1b[0m\n"
            return LogPiece(note, {**cursor, "gone": True}, complete=True)
        now = self.client.server_time or datetime.now(UTC)
        complete = ended is not None and now - ended >= LOG_SETTLE
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
