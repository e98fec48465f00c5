"""Semaphore -> neutral models (docs/providers/semaphore.md): a build is a pipeline
(grouped by its workflow), its jobs are the jobs of its blocks.

A sync, composed from the base skeleton:
1. the projects (``options["project_ids"]``, else listed: a complete list is evidence);
2. the pipelines held unfinished or due a recheck, described again (``repoll``);
3. per project, the pipelines list newest first down to the high-water mark with
   ``created_after`` (``scan``: resume point and retry list in the cursor; a first sync
   reads ``options["backfill_pages"]`` pages, default 3);
4. agent types and agents, deployment targets and their history, retention policies.
Every listing goes through ``BaseClient.paged``; nothing here reads the database."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.cache import cache

from dashboard.states import State
from providers.base.adapter import Adapter, Capability, ScanItem, ScanPlan, Scope
from providers.base.errors import CONNECTION_ERRORS, NotFound, ProviderError
from providers.base.parse import integer, obj, text, timestamp
from providers.base.records import (
    Batch,
    BuildRecord,
    HeldBuild,
    JobRecord,
    Listing,
    LogPiece,
    ProjectRecord,
    SyncContext,
)

from .actions import actions
from .client import SemaphoreClient
from .logs import exit_code_of, follow_log_redirect, render_events
from .mapping.agents import agent_row, agent_type_row
from .mapping.deployments import deployment_row, logins_of, target_row
from .mapping.pipelines import add_detail, build_record
from .mapping.retention import policy_row
from .panels import panels

if TYPE_CHECKING:
    from dashboard.models import Job

BACKFILL_PAGES = 3
HISTORY_BACKFILL_PAGES = 3
AGENTS_PAGE_SIZE = 200
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(moment: datetime) -> int:
    """A moment as the deployment history's cursor unit, unix microseconds."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


class SemaphoreAdapter(Adapter):
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
    actions = actions
    panels = panels
    client: SemaphoreClient

    # Connection ---------------------------------------------------------------------------
    def __init__(self, *args: Any, **kwargs: Any):
        self._detecting = threading.Lock()
        self._jobs_api: str | None = None  # the cache's answer, held for this adapter's life (one sync)
        super().__init__(*args, **kwargs)

    def check(self) -> str:
        configured = self.options.get("project_ids")
        if isinstance(configured, list) and configured:
            # The token may not list projects: ask for the first one's pipelines instead.
            self.client.pipelines_page(str(configured[0]), None)
            return f"ok: {len(configured)} project(s) configured; the first one's pipelines are visible"
        return f"ok: {len(self.list_projects())} project(s) visible"

    def list_projects(self) -> list[Scope]:
        found = []
        for raw in self.client.projects():
            meta = obj(raw.get("metadata"))
            project_id = text(meta.get("id"))
            if project_id:
                found.append(Scope(project_id, text(meta.get("name")) or project_id, raw))
        return found

    @property
    def jobs_api(self) -> str:
        """``options["jobs_api"]``: "v1alpha", "v2", or "auto" (the default: ask once)."""
        choice = self.options.get("jobs_api", "auto")
        if choice in ("v1alpha", "v2"):
            return choice
        if self._jobs_api is not None:  # every job of a sync asks: one cache read is enough
            return self._jobs_api
        key = f"semaphore-jobs-api:{self.connection.pk}:{self.connection.base_url}"
        with self._detecting:  # jobs described together ask once
            found = cache.get(key)
            if found is None:
                found = self.client.detect_jobs_api()
                cache.set(key, found, 3600)
            self._jobs_api = found
        return found

    # Sync ----------------------------------------------------------------------------------
    def sync(self, ctx: SyncContext) -> Iterator[Batch]:
        # A copy: the stored cursor must not change before a batch carrying it commits.
        cursor = {
            "projects": copy.deepcopy(obj(ctx.cursor.get("projects"))),
            "deployments": copy.deepcopy(obj(ctx.cursor.get("deployments"))),
        }
        scopes, batch = self.project_scopes(ctx)
        yield batch
        yield from self.repoll(ctx)
        yield from self.scans(ctx, cursor, (self.pipelines_plan(cursor, scope) for scope in scopes))
        yield from self.sync_agents()
        yield from self.sync_deployments(cursor, scopes)
        yield from self.sync_retention(scopes)

    def project_scopes(self, ctx: SyncContext) -> tuple[list[Scope], Batch]:
        """The projects to sync. When the list cannot be read, the projects we hold."""
        held = {r["external_id"]: r["name"] for r in ctx.stored("project", ("external_id", "name"), gone=False)}
        try:
            scopes, batch = self.scopes("project_ids", self.list_projects)
        except CONNECTION_ERRORS:
            raise
        except ProviderError as exc:
            scopes = [Scope(pid, name) for pid, name in held.items()]
            return scopes, Batch(problems=[f"projects: {exc}; the {len(scopes)} project(s) held are synced"])
        configured = not batch.listings
        batch.projects = [
            ProjectRecord(s.external_id, held.get(s.external_id, s.name) if configured else s.name, s.raw)
            for s in scopes
        ]
        return scopes, batch

    def pipelines_plan(self, cursor: dict, scope: Scope) -> ScanPlan:
        project_id = scope.external_id
        state = cursor["projects"].setdefault(project_id, {})
        hwm = state.get("hwm")
        after = int(hwm) - 1 if isinstance(hwm, (int, float)) else None

        def fetch_page(page: Any) -> tuple[list, Any]:
            return self.client.pipelines_page(project_id, page, created_after=after)

        def item(data: dict) -> ScanItem | None:
            ppl_id = text(data.get("ppl_id"))
            if not ppl_id:
                return None
            created = timestamp(data.get("created_at"))
            return ScanItem(created.timestamp() if created else float(hwm or 0), ppl_id, data)

        return ScanPlan(
            state,
            what=f"pipelines of {scope.name}",
            fetch_page=fetch_page,
            item=item,
            read=lambda entry: self.read_pipeline(entry.external_id, project_id=project_id),
            reread=lambda ppl_id: self.read_pipeline(ppl_id, project_id=project_id),
            backfill_pages=integer(self.options.get("backfill_pages")) or BACKFILL_PAGES,
        )

    def read_build(self, held: HeldBuild) -> BuildRecord | None:
        return self.read_pipeline(held.external_id, held=held)

    def read_pipeline(
        self, ppl_id: str, *, held: HeldBuild | None = None, project_id: str | None = None
    ) -> BuildRecord:
        """The pipeline described with its blocks, the graph of its blocks, and each job's
        detail when its state changed since we last read it."""
        body = self.client.pipeline(ppl_id, detailed=True)
        topology = obj(held.raw).get("topology") if held else None
        if not (isinstance(topology, list) and topology):
            try:
                topology = self.client.topology(ppl_id)
            except CONNECTION_ERRORS:
                raise
            except ProviderError:
                topology = []  # the graph is a nicety; asked again next time
        record = build_record(
            body,
            ppl_id,
            topology=topology,
            project_id=(held.project_id if held else None) or project_id,
            base_url=self.connection.base_url,
        )
        known = held.jobs if held else {}
        # A request per job that needs its detail: asked together (the API has no list of them).
        self.client.concurrently(lambda job: self.add_job_detail(job, known.get(job.external_id)), record.jobs or [])
        return record

    def add_job_detail(self, record: JobRecord, stored: dict | None) -> None:
        """Timings and the spec come from describe-job: asked once the job runs and once
        more when it has finished, then never again."""
        stored_detail = obj(obj(stored).get("raw")).get("job") or None
        unchanged = stored_detail is not None and obj(stored).get("state") == record.state
        if record.state == State.QUEUED or not self.options.get("job_details", True) or unchanged:
            add_detail(record, stored_detail)
            return
        try:
            detail = self.describe_job(record.external_id)
        except CONNECTION_ERRORS:
            raise
        except ProviderError:
            detail = stored_detail
        add_detail(record, detail)

    def describe_job(self, job_id: str) -> dict:
        if self.jobs_api == "v2":
            return {**self.client.job_v2(job_id), "_api": "v2"}
        return self.client.job(job_id)

    def sync_agents(self) -> Iterator[Batch]:
        """Agent types and agents belong to the organisation; ``options["sync_agents"] =
        False`` skips them (a token that may not see agents)."""
        if not self.options.get("sync_agents", True):
            return
        batch = Batch()
        types = self.attempt(batch, "self-hosted agent types", self.client.agent_types)
        if types is not None:
            rows = [r for r in map(agent_type_row, types) if r]
            batch.rows += rows
            batch.listings.append(Listing("agent_type", {r.external_id for r in rows}))
        size = integer(self.options.get("agents_page_size"))
        agents = self.attempt(
            batch, "self-hosted agents", self.client.agents, page_size=size if size and size > 0 else AGENTS_PAGE_SIZE
        )
        if agents is not None:
            rows = [r for r in map(agent_row, agents) if r]
            batch.rows += rows
            batch.listings.append(Listing("agent", {r.external_id for r in rows}))
        yield batch

    def sync_deployments(self, cursor: dict, scopes: list[Scope]) -> Iterator[Batch]:
        """Per project the targets (a complete list is evidence), then each target's
        history: newest pages on a first sync, later only what is newer than the newest
        held, or than the oldest still pending (its final state is read again)."""
        if not self.options.get("sync_deployments", True):
            return
        read = Batch()
        targets = self.attempt_each(
            read,
            lambda scope: f"deployment targets of {scope.name}",
            lambda scope: self.client.deployment_targets(scope.external_id),
            scopes,
        )
        if read.problems:
            yield read
        # A project's targets (an empty list too: evidence that its targets are gone).
        held = [
            (scope, [(row, body) for body in listed if (row := target_row(body, scope.external_id))])
            for scope, listed in zip(scopes, targets, strict=True)
            if listed is not None
        ]
        # Every target's newest history page is asked for at once (a quiet sync asks for
        # nothing else of them), the rest page by page as each history is read.
        ids = [(row.external_id, row.fields["name"]) for _, pairs in held for row, _ in pairs]
        histories = iter(self.client.first_pages_together([self.history_pages(cursor, *each) for each in ids]))
        for scope, pairs in held:
            batch = Batch()
            batch.rows += [row for row, _ in pairs]
            batch.listings.append(
                Listing("deployment_target", {row.external_id for row, _ in pairs}, {"project": scope.external_id})
            )
            yield batch
            for row, body in pairs:
                yield from self.sync_history(
                    cursor, row.external_id, row.fields["name"], logins_of(body), next(histories)
                )

    def history_start(self, cursor: dict, target_id: str) -> tuple[tuple[str, Any], str, int | None]:
        """Where a target's history is read from, which way it is followed and how many
        pages at most: newest first on a first sync, else onwards from the newest held
        (or the oldest still pending)."""
        state = dict(obj(cursor["deployments"].get(target_id)))
        newest, pending = integer(state.get("newest")), integer(state.get("pending"))
        if newest is None:
            return (
                ("FIRST", None),
                "before",
                integer(self.options.get("deployment_backfill_pages")) or HISTORY_BACKFILL_PAGES,
            )
        return ("AFTER", (pending - 1) if pending else newest), "after", None

    def history_pages(self, cursor: dict, target_id: str, name: str) -> Iterator[tuple[list, Any]]:
        start, follow, _ = self.history_start(cursor, target_id)

        def fetch(position: Any) -> tuple[list, Any]:
            kind, value = position or start
            page = self.client.deployment_history(target_id, cursor_type=kind, cursor_value=value)
            following = getattr(page, f"cursor_{follow}")
            return page.deployments, (follow.upper(), following) if following else None

        return self.client.paged(fetch, what=f"deployment history of {name}")

    def sync_history(
        self, cursor: dict, target_id: str, name: str, logins: dict[str, str], pages: Iterator[tuple[list, Any]]
    ) -> Iterator[Batch]:
        newest = integer(dict(obj(cursor["deployments"].get(target_id))).get("newest"))
        _, _, limit = self.history_start(cursor, target_id)
        seen: list[int] = []
        still_pending: list[int] = []
        for number in range(limit or 1_000_000):
            batch = Batch()
            try:
                deployments, _ = next(pages)
            except StopIteration:
                if newest is None and not seen and number:
                    # Nothing deployed yet: from now on ask only for what is newer.
                    cursor["deployments"][target_id] = {"newest": 0, "pending": None}
                    yield Batch(cursor=copy.deepcopy(cursor))
                break
            except CONNECTION_ERRORS:
                raise
            except ProviderError as exc:
                batch.problems.append(f"deployment history of {name}: {exc}")
                yield batch
                break
            for body in deployments:
                row = deployment_row(body, target_id, logins)
                if row is None:
                    continue
                batch.rows.append(row)
                when = row.fields["triggered_at"]
                if when is not None:
                    seen.append(micros(when))
                    if row.fields["raw_state"].upper() == "PENDING":
                        still_pending.append(micros(when))
            if seen:
                cursor["deployments"][target_id] = {
                    "newest": max([*seen, newest or 0]),
                    "pending": min(still_pending) if still_pending else None,
                }
                batch.cursor = copy.deepcopy(cursor)
            yield batch

    def sync_retention(self, scopes: list[Scope]) -> Iterator[Batch]:
        if not self.options.get("sync_retention", True):
            return
        batch = Batch()
        policies = self.attempt_each(
            batch,
            lambda scope: f"retention policy of {scope.name}",
            lambda scope: self.client.retention_policy(scope.external_id),
            scopes,
        )
        batch.rows += [
            policy_row(s.external_id, body) for s, body in zip(scopes, policies, strict=True) if body is not None
        ]
        yield batch

    # Logs ----------------------------------------------------------------------------------
    def log_origins(self) -> list[str]:
        origins = self.options.get("log_origins")
        return [o for o in origins if isinstance(o, str)] if isinstance(origins, list) else []

    def fetch_log(self, job: Job, cursor: dict) -> LogPiece:
        try:
            response = self.client.job_log(job.external_id, self.jobs_api)
        except NotFound:
            # Not started yet, or it never ran: nothing to show so far.
            return LogPiece("", cursor, complete=job.finished)
        if response.is_redirect:
            response = follow_log_redirect(self.client, response.headers.get("location", ""), self.log_origins())
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("events"), list):
            events = body["events"]
            seen = min(integer(cursor.get("events")) or 0, len(events))
            complete = any(obj(e).get("event") == "job_finished" for e in events)
            return LogPiece(
                render_events(events, seen),
                {"events": len(events)},
                complete=complete,
                exit_code=exit_code_of(events[seen:]),
            )
        # A log store may answer plain text.
        raw = response.text
        shown = min(integer(cursor.get("chars")) or 0, len(raw))
        return LogPiece(raw[shown:], {"chars": len(raw)}, complete=job.finished)


__all__ = ["SemaphoreAdapter", "micros"]
