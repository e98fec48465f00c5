"""One sync of one connection: lock, adapter batches -> bulk upserts -> cursor, SyncRun,
health.

Each batch is written in one transaction together with the cursor it carries, so a
worker killed mid-sync leaves the rows and the cursor agreeing, and the next sync resumes
from there. The lock is a lease on the connection row (owner + expiry), renewed after
every batch: overlapping beats skip a connection that is busy, and a dead worker's lease
simply runs out."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from dashboard.key_rotation import refuse_unreadable_token
from dashboard.logstore import refresh_log
from dashboard.models import (
    Agent,
    AgentType,
    Build,
    Connection,
    Deployment,
    DeploymentTarget,
    Health,
    Job,
    Pipeline,
    Project,
    RetentionPolicy,
    Schedule,
    SyncRun,
)
from dashboard.signals import batch_applied, send_safely, sync_finished
from dashboard.states import FINISHED
from dashboard.upsert import existing_ids, upsert
from providers.base.errors import (
    AuthError,
    ProviderError,
    RateLimited,
    Unavailable,
)
from providers.base.records import Batch, SyncContext, UnfinishedBuild
from providers.registry import adapter_class

log = logging.getLogger(__name__)

REPOLL_LIMIT = 500
LOG_PREFETCH_LIMIT = 50
LOG_PREFETCH_WINDOW = timedelta(hours=1)


# Lock -----------------------------------------------------------------------------------
def acquire_lock(connection_id: int, owner: str) -> bool:
    now = timezone.now()
    until = now + timedelta(seconds=settings.SYNC_LOCK_TTL)
    free = Q(lock_until__isnull=True) | Q(lock_until__lt=now) | Q(lock_owner=owner)
    return bool(Connection.objects.filter(free, pk=connection_id).update(lock_owner=owner, lock_until=until))


def renew_lock(connection_id: int, owner: str) -> bool:
    until = timezone.now() + timedelta(seconds=settings.SYNC_LOCK_TTL)
    return bool(Connection.objects.filter(pk=connection_id, lock_owner=owner).update(lock_until=until))


def release_lock(connection_id: int, owner: str) -> None:
    Connection.objects.filter(pk=connection_id, lock_owner=owner).update(lock_owner="", lock_until=None)


class LockLost(Exception):
    """Another worker took over the connection (our lease ran out)."""


# Model names as adapters use them, in the order rows must be written (referenced first).
MODELS = {
    "project": Project,
    "pipeline": Pipeline,
    "schedule": Schedule,
    "build": Build,
    "agent_type": AgentType,
    "agent": Agent,
    "deployment_target": DeploymentTarget,
    "deployment": Deployment,
    "retention_policy": RetentionPolicy,
}


# Applying batches ---------------------------------------------------------------------------
@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    finished_job_ids: list[int] = field(default_factory=list)
    changed_build_ids: set[int] = field(default_factory=set)
    finished_build_ids: list[int] = field(default_factory=list)

    def add(self, other) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged


def _fk_map(model, connection_id: int, known: dict[str, int], wanted: set[str]) -> dict[str, int]:
    missing = {w for w in wanted if w and w not in known}
    return {**known, **existing_ids(model, connection_id, missing)} if missing else known


def apply_batch(connection: Connection, batch: Batch) -> BatchResult:
    """Write one batch and its cursor in a single transaction."""
    cid = connection.pk
    total = BatchResult()
    with transaction.atomic():
        projects = upsert(Project, cid, {p.external_id: {"name": p.name[:255], "raw": p.raw} for p in batch.projects})
        total.add(projects)
        project_ids = _fk_map(
            Project, cid, projects.ids, {p.project_id for p in batch.pipelines} | {b.project_id for b in batch.builds}
        )
        pipelines = upsert(
            Pipeline,
            cid,
            {
                p.external_id: {"name": p.name[:255], "project_id": project_ids.get(p.project_id), "raw": p.raw}
                for p in batch.pipelines
            },
        )
        total.add(pipelines)
        # Builds may name a definition the adapter did not list: create it from the build.
        implied = {b.pipeline_id: b for b in batch.builds if b.pipeline_id}
        known_pipelines = _fk_map(Pipeline, cid, pipelines.ids, set(implied))
        missing = {k: v for k, v in implied.items() if k not in known_pipelines}
        if missing:
            made = upsert(
                Pipeline,
                cid,
                {
                    k: {"name": k.split(":", 1)[-1][:255], "project_id": project_ids.get(b.project_id), "raw": {}}
                    for k, b in missing.items()
                },
            )
            known_pipelines = {**known_pipelines, **made.ids}
        builds = upsert(
            Build,
            cid,
            {
                b.external_id: {
                    "project_id": project_ids.get(b.project_id),
                    "pipeline_id": known_pipelines.get(b.pipeline_id),
                    "number": b.number[:64],
                    "title": b.title[:500],
                    "group_id": b.group_id[:255],
                    "branch": b.branch[:255],
                    "commit_sha": b.commit_sha[:64],
                    "commit_message": b.commit_message,
                    "triggered_by": b.triggered_by[:255],
                    "state": b.state,
                    "raw_state": b.raw_state[:64],
                    "created_at": b.created_at,
                    "started_at": b.started_at,
                    "finished_at": b.finished_at,
                    "web_url": b.web_url[:500],
                    "gone": False,
                    "raw": b.raw,
                }
                for b in batch.builds
            },
            remember=("state",),
        )
        total.add(builds)
        batch_build_states = {b.external_id: b.state for b in batch.builds}
        job_rows = {}
        for b in batch.builds:
            if b.jobs is None:
                continue
            for j in b.jobs:
                job_rows[j.external_id] = {
                    "build_id": builds.ids[b.external_id],
                    "name": j.name[:255],
                    "group": j.group[:255],
                    "position": j.position,
                    "state": j.state,
                    "raw_state": j.raw_state[:64],
                    "exit_code": j.exit_code,
                    "created_at": j.created_at,
                    "started_at": j.started_at,
                    "finished_at": j.finished_at,
                    "depends_on": j.depends_on,
                    "allowed_failure": j.allowed_failure,
                    "raw": j.raw,
                }
        schedule_pipelines = _fk_map(Pipeline, cid, known_pipelines, {s.pipeline_id for s in batch.schedules})
        total.add(
            upsert(
                Schedule,
                cid,
                {
                    s.external_id: {
                        "name": s.name[:255],
                        "cron": s.cron[:255],
                        "timezone": s.timezone[:64],
                        "enabled": s.enabled,
                        "project_id": project_ids.get(s.project_id),
                        "pipeline_id": schedule_pipelines.get(s.pipeline_id),
                        "next_run_at": s.next_run_at,
                        "last_run_at": s.last_run_at,
                        "raw": s.raw,
                    }
                    for s in batch.schedules
                },
            )
        )
        jobs = upsert(Job, cid, job_rows, remember=("state",))
        total.add(jobs)
        total.changed_build_ids = {builds.ids[ext] for ext in builds.changed}
        total.changed_build_ids |= {job_rows[ext]["build_id"] for ext in jobs.changed}
        total.finished_build_ids = [
            builds.ids[ext]
            for ext in builds.changed
            if batch_build_states[ext] in FINISHED and builds.previous.get(ext, {}).get("state") not in FINISHED
        ]
        total.finished_job_ids = [
            jobs.ids[ext]
            for ext, row in job_rows.items()
            if row["state"] in FINISHED and jobs.previous.get(ext, {}).get("state") not in FINISHED
        ]
        for label, external_id in batch.removed:
            if label == "pipeline":  # its builds stay in our history, marked as gone at the provider
                Build.objects.filter(connection_id=cid, pipeline__external_id=external_id).update(gone=True)
            MODELS[label].objects.filter(connection_id=cid, external_id=external_id).delete()
        apply_rows(cid, batch.rows, total)
        if batch.gone_builds:
            Build.objects.filter(connection_id=cid, external_id__in=batch.gone_builds).update(gone=True)
        if batch.cursor is not None:
            Connection.objects.filter(pk=cid).update(sync_cursor=batch.cursor)
            connection.sync_cursor = batch.cursor
        if total.changed_build_ids:
            changed, finished = sorted(total.changed_build_ids), total.finished_build_ids
            transaction.on_commit(
                lambda: send_safely(
                    batch_applied, connection=connection, changed_build_ids=changed, finished_build_ids=finished
                )
            )
    return total


def apply_rows(cid: int, rows: list, total: BatchResult) -> None:
    """Upsert the batch's other rows model by model, resolving their foreign keys."""
    by_model: dict[str, list] = {}
    for row in rows:
        by_model.setdefault(row.model, []).append(row)
    for name, model in MODELS.items():
        records = by_model.get(name)
        if not records:
            continue
        wanted: dict[str, set[str]] = {}
        for record in records:
            for ref_model, ref_id in record.refs.values():
                if ref_id:
                    wanted.setdefault(ref_model, set()).add(ref_id)
        resolved = {ref_model: existing_ids(MODELS[ref_model], cid, ids) for ref_model, ids in wanted.items()}
        values = {}
        for record in records:
            fields = dict(record.fields)
            for fk, (ref_model, ref_id) in record.refs.items():
                fields[f"{fk}_id"] = resolved.get(ref_model, {}).get(ref_id) if ref_id else None
            values[record.external_id] = fields
        total.add(upsert(model, cid, values))


def unfinished_builds(connection: Connection) -> list[UnfinishedBuild]:
    builds = list(
        Build.objects.filter(connection=connection, gone=False)
        .exclude(state__in=FINISHED)
        .order_by("synced_at")
        .values("id", "external_id", "project__external_id", "raw")[:REPOLL_LIMIT]
    )
    jobs: dict[int, dict] = {}
    for build_id, ext_id, state, raw in Job.objects.filter(build_id__in=[b["id"] for b in builds]).values_list(
        "build_id", "external_id", "state", "raw"
    ):
        jobs.setdefault(build_id, {})[ext_id] = {"state": state, "raw": raw}
    return [
        UnfinishedBuild(b["external_id"], b["project__external_id"], b["raw"] or {}, jobs.get(b["id"], {}))
        for b in builds
    ]


def finished_ids(connection: Connection, external_ids: list[str]) -> set[str]:
    return set(
        Build.objects.filter(
            connection=connection, external_id__in=[i for i in external_ids if i], state__in=FINISHED
        ).values_list("external_id", flat=True)
    )


# The sync ----------------------------------------------------------------------------------
def health_for(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, AuthError):
        return Health.AUTH_FAILED, str(exc)
    if isinstance(exc, Unavailable):
        return Health.UNREACHABLE, str(exc)
    if isinstance(exc, RateLimited):
        return Health.DEGRADED, f"{exc} (will try again at the next sync)"
    if isinstance(exc, ProviderError):
        return Health.DEGRADED, f"Unexpected answer: {exc}"
    return Health.DEGRADED, f"Internal error during sync: {exc.__class__.__name__}: {exc}"


def sync_connection(connection_id: int) -> SyncRun | None:
    """Sync one connection unless another worker is already doing it (returns None)."""
    owner = uuid.uuid4().hex
    if not acquire_lock(connection_id, owner):
        log.info("connection %s is already syncing; skipped", connection_id)
        return None
    try:
        connection = Connection.objects.get(pk=connection_id)
        SyncRun.objects.filter(connection=connection, status=SyncRun.Status.RUNNING).update(
            status=SyncRun.Status.INTERRUPTED,
            finished_at=timezone.now(),
            error="The worker stopped before this sync finished; the next sync resumed from its cursor.",
        )
        return _run(connection, owner)
    finally:
        release_lock(connection_id, owner)


def _run(connection: Connection, owner: str) -> SyncRun:
    if (refused := refuse_unreadable_token(connection)) is not None:
        return refused
    started = time.monotonic()
    run = SyncRun.objects.create(connection=connection)
    adapter = adapter_class(connection.kind)(connection)
    problems: list[str] = []
    finished_jobs: list[int] = []
    health, error = Health.OK, ""
    try:
        ctx = SyncContext(
            dict(connection.sync_cursor or {}), unfinished_builds(connection), lambda ids: finished_ids(connection, ids)
        )
        for batch in adapter.sync(ctx):
            result = apply_batch(connection, batch)
            problems.extend(batch.problems)
            finished_jobs.extend(result.finished_job_ids)
            run.created += result.created
            run.updated += result.updated
            run.unchanged += result.unchanged
            run.requests = adapter.requests
            run.save(update_fields=["created", "updated", "unchanged", "requests"])
            if not renew_lock(connection.pk, owner):
                raise LockLost("The sync lease ran out and another worker took over.")
        problems.extend(prefetch_logs(adapter, finished_jobs))
    except LockLost as exc:
        health, error = Health.DEGRADED, str(exc)
    except Exception as exc:
        if not isinstance(exc, ProviderError):
            log.exception("sync of connection %s failed", connection.pk)
        health, error = health_for(exc)
    finally:
        adapter.close()
    if error:
        run.status = SyncRun.Status.FAILED
    elif problems:
        run.status = SyncRun.Status.PARTIAL
        health = Health.DEGRADED
        error = f"{len(problems)} item(s) could not be read: " + "; ".join(problems[:5])
    else:
        run.status = SyncRun.Status.OK
    run.error = error
    run.requests = adapter.requests
    run.finished_at = timezone.now()
    run.duration = round(time.monotonic() - started, 3)
    run.save()
    now = timezone.now()
    Connection.objects.filter(pk=connection.pk).update(
        health=health,
        last_error=error,
        last_synced_at=now,
        next_sync_at=now + timedelta(seconds=connection.sync_interval),
    )
    connection.refresh_from_db()
    send_safely(sync_finished, connection=connection, run=run)
    return run


def prefetch_logs(adapter, job_ids: list[int]) -> list[str]:
    """Store the logs of jobs seen finishing in this sync (recent ones only, so a first
    sync of a long history does not fetch thousands of logs; older ones load on view)."""
    problems = []
    recent = timezone.now() - LOG_PREFETCH_WINDOW
    jobs = (
        Job.objects.filter(pk__in=job_ids)
        .filter(Q(finished_at__gte=recent) | Q(finished_at__isnull=True))
        .exclude(log__complete=True)
        .select_related("build", "connection")[:LOG_PREFETCH_LIMIT]
    )
    for job in jobs:
        try:
            refresh_log(job, adapter)
        except (AuthError, Unavailable, RateLimited):
            raise
        except ProviderError as exc:
            problems.append(f"log of job {job.external_id}: {exc}")
    return problems


def dispatch_due() -> list[int]:
    """Connections whose next sync is due; their next time moves on so the next beat
    does not dispatch them again while they run."""
    now = timezone.now()
    due = list(Connection.objects.filter(enabled=True, next_sync_at__lte=now).values_list("pk", "sync_interval"))
    for pk, interval in due:
        Connection.objects.filter(pk=pk).update(next_sync_at=now + timedelta(seconds=interval))
    return [pk for pk, _ in due]
