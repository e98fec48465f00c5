"""Harmont's sync and logs on the shared skeleton (docs/providers/harmont.md, "Sync" and
"Logs"); JSON is turned into records in ``mapping``.

A sync lists the organizations (``options["orgs"]`` names them instead) and each one's
pipelines: complete listings, so they are also the evidence that one was deleted. A
listing that fails is a problem in words, and the pipelines we hold are scanned instead.
Then the builds the engine hands over are read again (the base ``repoll`` with
``read_build``: getBuild + listJobs; a 404 is weighed by the base against a control
read), and each pipeline's builds are scanned newest first by number (the base ``scan``:
down to the high-water mark, resumable, with a retry list in the cursor for builds that
could not be read). A build counts as read only with its jobs: a jobs list that fails,
or is empty for a build that ran, sends the build to the retry list.

The cursor is ``{"pipelines": {"<org>:<pipeline>": <scan state>}}``; cursors stored
before the base ``scan`` (``scan.cursor``, a retry list of numbers) are read as they are.

Options: ``orgs``, ``page_size`` (50), ``backfill_pages`` (2), ``web_url`` (a template such
as ``https://app.example/{org}/{pipeline}/builds/{number}``), ``log_idle_seconds`` (1.5),
``log_max_seconds`` (3), ``log_settle_seconds`` (30)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.cache import cache

from providers.base.adapter import Adapter, Capability, ScanItem, ScanPlan, Scope
from providers.base.errors import BadResponse, NotFound, ProviderError
from providers.base.parse import integer, obj, text, timestamp
from providers.base.records import Batch, BuildRecord, HeldBuild, Listing, LogPiece, SyncContext

from . import logstream
from .actions import actions
from .client import HarmontClient, LogTokenRefused
from .mapping import (
    build_id,
    build_record,
    jobs_or_unknown,
    pipeline_record,
    project_record,
    split_build_id,
)
from .panels import panels

if TYPE_CHECKING:
    from dashboard.models import Job

TOKEN_MARGIN = timedelta(seconds=60)
# A person waiting for a page gets what the stream has at once, not what may come.
PAGE_LOG_IDLE_SECONDS = 0.3
# Time kept back from a page view's deadline for closing the stream and storing it.
LOG_STREAM_MARGIN = 0.2


class HarmontAdapter(Adapter):
    kind = "harmont"
    client_class = HarmontClient
    capabilities = frozenset({Capability.LOGS, Capability.LIVE_LOGS, Capability.JOB_DAG, Capability.ARTIFACTS})
    actions = actions
    panels = panels
    client: HarmontClient

    def check(self) -> str:
        user = self.client.user()
        orgs, _ = self.scopes("orgs", self.listed_orgs)
        return f"ok: signed in as {text(user.get('email')) or 'a Harmont user'}; {len(orgs)} organization(s)"

    def setting(self, name: str, default: float) -> float:
        value = self.options.get(name, default)
        try:
            return max(float(value), 0.0)
        except (TypeError, ValueError):
            return default

    # Sync ---------------------------------------------------------------------------------
    def sync(self, ctx: SyncContext) -> Iterator[Batch]:
        cursor = {"pipelines": upgraded(ctx.cursor.get("pipelines"))}
        first, pipelines = self.definitions(ctx)
        yield first
        yield from self.repoll(ctx)
        # Builds handed over are the repoll's, read or not: the scan leaves them to it.
        handed = {held.external_id for held in ctx.repoll}
        page_size = min(max(integer(self.options.get("page_size")) or 50, 1), 100)
        backfill = max(integer(self.options.get("backfill_pages")) or 2, 1)
        plans = (
            ScanPlan(
                cursor["pipelines"].setdefault(f"{org}:{slug}", {}),
                what=f"builds of {org}/{slug}",
                fetch_page=lambda at, o=org, s=slug: self.client.builds_page(o, s, cursor=at, limit=page_size),
                item=lambda data, o=org, s=slug: scan_item(o, s, data),
                read=lambda entry, o=org, s=slug: self.read_listed(o, s, entry.data),
                reread=lambda external_id: self.read_build(HeldBuild(external_id, None, {})),
                backfill_pages=backfill,
                skip=handed,
            )
            for org, slug in pipelines
        )
        yield from self.scans(ctx, cursor, plans)

    def listed_orgs(self) -> list[Scope]:
        return [Scope(r.external_id, r.name, r.raw) for o in self.client.organizations() if (r := project_record(o))]

    def definitions(self, ctx: SyncContext) -> tuple[Batch, list[tuple[str, str]]]:
        """Organizations and pipelines, and the pipelines to scan: those listed, or
        where a listing failed, those we hold."""
        batch = Batch()
        found = self.attempt(batch, "organizations", self.scopes, "orgs", self.listed_orgs)
        if found is None:
            orgs = [Scope(row["external_id"]) for row in ctx.stored("project", gone=False)]
        else:
            orgs, listed = found
            batch.listings += listed.listings
            batch.projects += [project_record(s.raw) or project_record({"slug": s.external_id}) for s in orgs]
        pipelines: list[tuple[str, str]] = []
        ids = [s.external_id for s in orgs]
        every = self.attempt_each(batch, lambda org: f"pipelines of {org}", self.client.pipelines, ids)
        for org, listed in zip(ids, every, strict=True):
            if listed is None:
                held = ctx.stored("pipeline", ("external_id",), project__external_id=org, gone=False)
                pipelines += [(org, row["external_id"].partition(":")[2]) for row in held]
                continue
            records = [r for p in listed if (r := pipeline_record(org, p))]
            batch.pipelines += records
            batch.listings.append(Listing("pipeline", {r.external_id for r in records}, {"project": org}))
            pipelines += [(org, r.external_id.partition(":")[2]) for r in records]
        return batch, pipelines

    def read_build(self, held: HeldBuild) -> BuildRecord:
        """getBuild, then its jobs. ``NotFound`` (the build's own 404) goes up to be
        weighed; a jobs list that cannot be read is another error."""
        parts = split_build_id(held.external_id)
        if parts is None:
            raise BadResponse(f"{held.external_id} is not a Harmont build id")
        org, slug, number = parts
        data = self.client.build(org, slug, number)
        return self.with_jobs(org, slug, {**data, "number": number})

    def read_listed(self, org: str, slug: str, data: dict) -> BuildRecord:
        """A build as the listing showed it, with its jobs (the detail is asked for only
        when the listed item lacks its state)."""
        if not text(data.get("state")):
            data = self.client.build(org, slug, integer(data.get("number")) or 0)
        return self.with_jobs(org, slug, data)

    def with_jobs(self, org: str, slug: str, data: dict) -> BuildRecord:
        number = integer(data.get("number"))
        if number is None:
            raise BadResponse("Harmont sent a build without its number")
        try:
            jobs = self.client.jobs(org, slug, number)
        except NotFound as exc:  # the build itself was just answered: this 404 is not about it
            raise BadResponse(f"Harmont showed build #{number} but not its jobs: {exc}") from exc
        return self.record(org, slug, data, jobs_or_unknown(data, jobs))

    def record_with_jobs(self, org: str, slug: str, data: dict) -> BuildRecord:
        """For actions: the build they made or changed, with its jobs when they can be
        read now (else the sync reads them)."""
        try:
            return self.with_jobs(org, slug, data)
        except ProviderError:
            return self.record(org, slug, data, None)

    def record(self, org: str, slug: str, data: dict, jobs: list[dict] | None) -> BuildRecord:
        return build_record(org, slug, data, jobs, link_template=text(self.options.get("web_url"), 500))

    # Logs ---------------------------------------------------------------------------------
    def fetch_log(self, job: Job, cursor: dict) -> LogPiece:
        if job.finished and job.started_at is None:
            return LogPiece("", {"done": True}, complete=True)  # skipped, or canceled before it ran
        parts = split_build_id(job.build.external_id)
        if parts is None:
            raise NotFound(f"{job.build.external_id} is not a Harmont build id")
        after = integer(cursor.get("seq"))
        token = self.log_token(*parts)

        def open_stream():
            idle, _ = self.stream_bounds()
            return self.client.open_log_stream(job.external_id, token["token"], last_event_id=after, read_timeout=idle)

        try:
            response = open_stream()
        except LogTokenRefused as exc:
            if exc.details.get("code") != "log_stream_unauthorized":
                raise
            token = self.log_token(*parts, fresh=True)  # expired early or revoked: one fresh token
            response = open_stream()
        idle, budget = self.stream_bounds()
        # A finished job's replay is all there is (or nearly, just after it ended): no
        # waiting for more, and no waiting ~15 s for ``done``.
        read = logstream.read_stream(response, after, idle=idle, budget=budget, history_only=job.finished)
        seq = read.last_seq if read.chunks else after
        complete = read.done or (read.saw_history and self.settled(job))
        new_cursor: dict[str, Any] = {} if seq is None else {"seq": seq}
        if complete:
            new_cursor["done"] = True
        return LogPiece(logstream.render(read.chunks), new_cursor, complete=complete)

    def stream_bounds(self) -> tuple[float, float]:
        """(idle, budget) seconds for reading the log stream: the connection's options,
        shorter while a person waits, and never past the client's deadline."""
        idle = self.setting("log_idle_seconds", 1.5)
        budget = self.setting("log_max_seconds", 3.0)
        if self.interactive:
            idle = min(idle, PAGE_LOG_IDLE_SECONDS)
        remaining = self.client.remaining()
        if remaining is not None:
            budget = min(budget, max(remaining - LOG_STREAM_MARGIN, 0.05))
        return max(min(idle, budget), 0.05), budget

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
            raise BadResponse("Harmont sent a log token response without a token.")
        token = {"token": text(body["token"], 4000), "expires_at": text(body.get("expires_at"))}
        expires = timestamp(token["expires_at"])
        if expires:
            cache.set(key, token, max(int((expires - TOKEN_MARGIN - datetime.now(UTC)).total_seconds()), 1))
        return token

    def settled(self, job: Job) -> bool:
        """Finished long enough ago that no more output can come (see ``logstream``)."""
        if not job.finished:
            return False
        settle = timedelta(seconds=self.setting("log_settle_seconds", 30))
        return job.finished_at is None or datetime.now(UTC) - job.finished_at >= settle


def scan_item(org: str, slug: str, data: dict) -> ScanItem | None:
    """A listed build, keyed by its number (numbers grow with creation)."""
    number = integer(data.get("number"))
    return None if number is None else ScanItem(number, build_id(org, slug, number), data)


def upgraded(pipelines: Any) -> dict[str, dict]:
    """The per-pipeline scan states, with those stored before the base ``scan`` read
    as it reads them: ``scan.cursor`` is ``scan.next``, and retry numbers become
    entries due now."""
    states: dict[str, dict] = {}
    for key, state in obj(pipelines).items():
        if not isinstance(state, dict):
            continue
        state = dict(state)
        scan = obj(state.get("scan"))
        if "cursor" in scan and "next" not in scan:
            state["scan"] = {**{k: v for k, v in scan.items() if k != "cursor"}, "next": scan["cursor"]}
        retry = state.get("retry")
        if isinstance(retry, list):
            state["retry"] = [
                {"id": f"{key}:{entry}", "tries": 1, "due": 0} if integer(entry) is not None else entry
                for entry in retry
                if isinstance(entry, dict) or integer(entry) is not None
            ]
        states[key] = state
    return states
