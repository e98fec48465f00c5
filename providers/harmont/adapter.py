"""Harmont -> neutral models.

A project is an organization (``options["orgs"]`` lists the slugs to sync; otherwise
every organization the token sees), a pipeline is a Harmont pipeline
(``<org>:<pipeline>``), a build is a pipeline build (``<org>:<pipeline>:<number>``,
shown as ``#<number>``) and its jobs are the build's DAG (job uuid, ``depends_on``).

Sync: organizations and pipelines; then the unfinished builds we hold, polled again
(getBuild + listJobs); then each pipeline's builds, newest first, one page per batch,
until the high-water mark (the newest number a finished scan saw). Builds held as
finished are skipped without fetching. The page cursor of an unfinished scan is in the
sync cursor, so a killed sync resumes there. A first scan takes ``backfill_pages``
pages (default 2) of ``page_size`` builds (default 50). A build whose jobs could not be
read is remembered and read again at the next sync.

Why the high-water mark, not "stop at the first build held as finished": a build we
started ourselves is stored at once and may be held finished above builds that others
started meanwhile; stopping at it would lose those. Without a mark (a lost cursor) the
first build held as finished does end the scan.

States: ``failing``, ``canceling`` and ``timing_out`` are still running; ``timed_out`` is
failed; ``pending``/``scheduled``/``assigned`` are queued. A soft-failed job (``failed``
with ``soft_failed: true``) stays FAILED: its command did fail (non-zero exit), and the
build state already tells that the failure was allowed. ``raw["soft_failed"]`` keeps
the flag and the job panel shows it.

Options: ``orgs``, ``page_size``, ``backfill_pages``, ``web_url`` (a template such as
``https://app.example/{org}/{pipeline}/builds/{number}``; Harmont's web URLs are not
documented, so there is no default), ``log_idle_seconds`` (1.5), ``log_max_seconds`` (3),
``log_settle_seconds`` (30)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.cache import cache

from dashboard.states import State, normalise
from providers.base.adapter import Adapter, Capability
from providers.base.errors import CONNECTION_ERRORS, NotFound, ProviderError
from providers.base.parse import integer, items, obj, text, timestamp
from providers.base.records import (
    Batch,
    BuildRecord,
    JobRecord,
    LogPiece,
    PipelineRecord,
    ProjectRecord,
    SyncContext,
)

from . import logstream
from .actions import ACTIONS, ActionsMixin
from .client import HarmontClient, LogTokenRefused

if TYPE_CHECKING:
    from dashboard.models import Job

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
REPOLL_BATCH = 20
MAX_RETRY = 100  # builds whose jobs failed to load, kept for the next sync
TOKEN_MARGIN = timedelta(seconds=60)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def build_id(org: str, pipeline: str, number: int) -> str:
    return f"{org}:{pipeline}:{number}"


def split_build_id(external_id: str) -> tuple[str, str, int] | None:
    parts = external_id.split(":")
    if len(parts) != 3 or integer(parts[2]) is None:
        return None
    return parts[0], parts[1], int(parts[2])


class HarmontAdapter(ActionsMixin, Adapter):
    kind = "harmont"
    client_class = HarmontClient
    capabilities = frozenset({Capability.LOGS, Capability.LIVE_LOGS, Capability.JOB_DAG, Capability.ARTIFACTS})
    actions = ACTIONS
    client: HarmontClient

    def check(self) -> str:
        user = self.client.user()
        orgs = self.org_slugs()
        return f"ok: signed in as {text(user.get('email')) or 'a Harmont user'}; {len(orgs)} organization(s)"

    def org_slugs(self) -> list[tuple[str, dict]]:
        configured = self.options.get("orgs")
        if isinstance(configured, list) and configured:
            return [(str(slug), {}) for slug in configured if str(slug)]
        return [(text(o.get("slug")), o) for o in self.client.organizations() if text(o.get("slug"))]

    # Records ----------------------------------------------------------------------------
    def build_record(self, org: str, pipeline: str, data: dict, jobs: list[dict] | None) -> BuildRecord:
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
            web_url=self.web_url(org, pipeline, number),
            raw={"org": org, "pipeline": pipeline, "build": data},
        )
        if jobs is not None:
            record.jobs = [r for position, job in enumerate(jobs) if (r := job_record(job, position))]
        return record

    def web_url(self, org: str, pipeline: str, number: int) -> str:
        template = text(self.options.get("web_url"), 500)
        try:
            url = template.format(org=org, pipeline=pipeline, number=number)
        except (KeyError, IndexError, ValueError):
            return ""  # a template naming other fields: no link rather than a failed sync
        return url if url.startswith(("https://", "http://")) else ""

    def fetch_build(self, batch: Batch, org: str, pipeline: str, number: int, data: dict | None = None):
        """A build with its jobs, or None (noted as a problem) when either read failed."""
        what = f"build {build_id(org, pipeline, number)}"
        if data is None:
            data = self.attempt(batch, what, self.client.build, org, pipeline, number)
            if data is None:
                return None
        jobs = self.attempt(batch, f"jobs of {what}", self.client.jobs, org, pipeline, number)
        return None if jobs is None else self.build_record(org, pipeline, data, jobs)

    # Sync -------------------------------------------------------------------------------
    def sync(self, ctx: SyncContext) -> Iterator[Batch]:
        cursor = {"pipelines": copy.deepcopy(obj(ctx.cursor.get("pipelines")))}
        first = Batch()
        pipelines: list[tuple[str, str]] = []
        for org, raw in self.org_slugs():
            first.projects.append(ProjectRecord(org, text(raw.get("name")) or org, raw))
            listed = self.attempt(first, f"pipelines of {org}", lambda o=org: list(self.client.pipelines(o)))
            for p in listed or []:
                slug = text(p.get("slug"))
                if slug:
                    first.pipelines.append(PipelineRecord(f"{org}:{slug}", text(p.get("name")) or slug, org, p))
                    pipelines.append((org, slug))
        yield first

        polled: set[str] = set()
        yield from self.repoll(ctx, polled)
        yield from self.retry_failed(cursor, polled)
        for org, slug in pipelines:
            yield from self.scan(org, slug, cursor, ctx, polled)

    def read_or_gone(self, batch: Batch, org: str, pipeline: str, number: int) -> BuildRecord | bool | None:
        """A held build read again: its record, None when the read failed (a problem is
        noted), or False when Harmont no longer has it."""
        try:
            data = self.client.build(org, pipeline, number)
        except NotFound:
            return False
        except CONNECTION_ERRORS:
            raise
        except ProviderError as exc:
            batch.problems.append(f"build {build_id(org, pipeline, number)}: {exc}")
            return None
        return self.fetch_build(batch, org, pipeline, number, data)

    def repoll(self, ctx: SyncContext, polled: set[str]) -> Iterator[Batch]:
        for start in range(0, len(ctx.unfinished), REPOLL_BATCH):
            batch = Batch()
            for held in ctx.unfinished[start : start + REPOLL_BATCH]:
                parts = split_build_id(held.external_id)
                if parts is None:
                    batch.problems.append(f"build {held.external_id}: not a Harmont build id")
                    continue
                polled.add(held.external_id)
                record = self.read_or_gone(batch, *parts)
                if record is False:
                    batch.gone_builds.append(held.external_id)
                elif record:
                    batch.builds.append(record)
            yield batch

    def retry_failed(self, cursor: dict, polled: set[str]) -> Iterator[Batch]:
        """Builds a scan could not read completely last time (their number is below the
        high-water mark now, so no scan would see them again)."""
        batch = Batch()
        pending = {key: state for key, state in cursor["pipelines"].items() if state.get("retry")}
        for key, state in pending.items():
            org, _, slug = key.partition(":")
            still = []
            for number in state["retry"]:
                record = self.read_or_gone(batch, org, slug, number)
                if record:
                    batch.builds.append(record)
                    polled.add(record.external_id)
                elif record is None:
                    still.append(number)
            state["retry"] = still
        if pending:
            batch.cursor = copy.deepcopy(cursor)
            yield batch

    def scan(self, org: str, slug: str, cursor: dict, ctx: SyncContext, polled: set[str]) -> Iterator[Batch]:
        key = f"{org}:{slug}"
        state = cursor["pipelines"].setdefault(key, {})
        hwm = integer(state.get("hwm"))
        scan = dict(obj(state.get("scan"))) or {"cursor": None, "top": None, "pages": 0}
        page_size = min(max(integer(self.options.get("page_size")) or 50, 1), 100)
        max_pages = None if hwm is not None else max(integer(self.options.get("backfill_pages")) or 2, 1)
        while True:
            batch = Batch()
            page = self.attempt(
                batch, f"builds of {key}", self.client.builds_page, org, slug, cursor=scan["cursor"], limit=page_size
            )
            if page is None:
                yield batch  # the scan resumes from the same page next time
                return
            listed, next_cursor = page
            numbered = [(n, b) for b in listed if (n := integer(b.get("number"))) is not None]
            finished = ctx.finished_ids([build_id(org, slug, n) for n, _ in numbered])
            stop = False
            for number, data in numbered:
                scan["top"] = number if scan["top"] is None else max(scan["top"], number)
                ext = build_id(org, slug, number)
                if (hwm is not None and number <= hwm) or (hwm is None and ext in finished):
                    stop = True
                    break
                if ext in finished or ext in polled:
                    continue
                record = self.fetch_build(batch, org, slug, number, data)
                if record:
                    batch.builds.append(record)
                elif len(state.setdefault("retry", [])) < MAX_RETRY:
                    state["retry"].append(number)
            scan["pages"] += 1
            done = stop or not next_cursor or not listed or (max_pages is not None and scan["pages"] >= max_pages)
            if done:
                state["hwm"] = max(filter(lambda v: v is not None, (hwm, scan["top"])), default=None)
                state.pop("scan", None)
            else:
                state["scan"] = {**scan, "cursor": next_cursor}
            batch.cursor = copy.deepcopy(cursor)
            yield batch
            if done:
                return
            scan["cursor"] = next_cursor

    # Logs ---------------------------------------------------------------------------------
    def fetch_log(self, job: Job, cursor: dict) -> LogPiece:
        if job.finished and job.started_at is None:
            return LogPiece("", {"done": True}, complete=True)  # skipped, or canceled before it ran
        parts = split_build_id(job.build.external_id)
        if parts is None:
            raise NotFound(f"{job.build.external_id} is not a Harmont build id")
        idle = float(self.options.get("log_idle_seconds", 1.5))
        after = integer(cursor.get("seq"))
        token = self.log_token(*parts)

        def open_stream():
            return self.client.open_log_stream(job.external_id, token["token"], last_event_id=after, read_timeout=idle)

        try:
            response = open_stream()
        except LogTokenRefused as exc:
            if exc.details.get("code") != "log_stream_unauthorized":
                raise
            token = self.log_token(*parts, fresh=True)  # expired early or revoked: one fresh token
            response = open_stream()
        # A finished job's replay is all there is (or nearly, just after it ended): no
        # waiting for more, and no waiting ~15 s for ``done``.
        read = logstream.read_stream(
            response,
            after,
            idle=idle,
            budget=float(self.options.get("log_max_seconds", 3.0)),
            history_only=job.finished,
        )
        seq = read.last_seq if read.chunks else after
        complete = read.done or (read.saw_history and self.settled(job))
        new_cursor: dict[str, Any] = {} if seq is None else {"seq": seq}
        if complete:
            new_cursor["done"] = True
        return LogPiece(logstream.render(read.chunks), new_cursor, complete=complete)

    def log_token(self, org: str, pipeline: str, number: int, fresh: bool = False) -> dict:
        """The build's log token, reused until it nears its expiry. It is a credential, so
        it lives in the cache (memory or Redis) and never in the database."""
        key = f"harmont-log-token:{self.connection.pk}:{org}:{pipeline}:{number}"
        cached = None if fresh else cache.get(key)
        expires = timestamp(obj(cached).get("expires_at"))
        if cached and expires and expires - TOKEN_MARGIN > datetime.now(UTC):
            return cached
        body = self.client.log_token(org, pipeline, number)
        if not text(body.get("token")):
            raise ProviderError("Harmont sent a log token response without a token.")
        token = {"token": text(body["token"], 4000), "expires_at": text(body.get("expires_at"))}
        expires = timestamp(token["expires_at"])
        if expires:
            cache.set(key, token, max(int((expires - TOKEN_MARGIN - datetime.now(UTC)).total_seconds()), 1))
        return token

    def settled(self, job: Job) -> bool:
        """Finished long enough ago that no more output can come (see logstream)."""
        if not job.finished:
            return False
        settle = timedelta(seconds=float(self.options.get("log_settle_seconds", 30)))
        return job.finished_at is None or datetime.now(UTC) - job.finished_at >= settle

    # Panels -----------------------------------------------------------------------------
    live_panels = frozenset({"job_panel"})

    def panel_context(self, target: Any, request: Any, name: str) -> dict:
        return {"panel": self.panel_data(target)}

    def panel_data(self, obj_: Any) -> dict:
        """What the Harmont partials show beyond the generic pages. For a job, the live
        artifacts call: a 404 (Harmont has no such endpoint, or no such job) hides the
        section (``artifacts_available`` False) instead of showing an error."""
        from dashboard.models import Build, Job, Pipeline

        if isinstance(obj_, Pipeline):
            return {"pipeline": obj(obj_.raw)}
        if isinstance(obj_, Build):
            return {"build": obj(obj(obj_.raw).get("build"))}
        if not isinstance(obj_, Job):
            return {}
        raw = obj(obj_.raw)
        context: dict[str, Any] = {"job": raw, "artifacts": [], "artifacts_available": False, "artifacts_error": ""}
        parts = split_build_id(obj_.build.external_id)
        if parts is None:
            return context
        try:
            found = self.client.artifacts(*parts, obj_.external_id)
        except NotFound:
            return context
        except ProviderError as exc:
            context["artifacts_error"] = f"Could not list artifacts: {exc}"
            return context
        context["artifacts_available"] = True
        context["artifacts"] = [artifact(a) for a in found]
        return context


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
        allowed_failure=data.get("soft_failed") is True,
        raw=data,
    )


def artifact(data: dict) -> dict:
    url = text(data.get("url"), 2000)
    return {
        "name": text(data.get("name")) or text(data.get("path")) or "artifact",
        "path": text(data.get("path"), 1000),
        "size": integer(data.get("size")),
        "content_type": text(data.get("content_type")),
        # Only web links: a javascript: URL from a provider must never become a link.
        "url": url if url.startswith(("https://", "http://")) else "",
    }
