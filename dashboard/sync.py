"""One sync of one connection: lease, adapter batches -> writes -> cursor, SyncRun,
health, and when to sync next.

Each batch is written in one transaction together with the cursor it carries (see
``dashboard.apply``), so a worker killed mid-sync leaves the rows and the cursor
agreeing, and the next sync resumes from there. The lock is a short lease on the
connection row (owner + expiry) renewed while the sync talks to the provider:
overlapping beats skip a connection that is busy, and a dead worker's lease runs out
within ``SYNC_LOCK_TTL`` seconds.

Every sync works within bounds: a request budget, a time limit (which also caps each
request's timeout) and bounded listings. A bound reached ends the sync, keeps what it
committed and says so in the connection's health. A provider asking us to wait longer
than a few seconds (``Retry-After``), or failing to answer, moves its own connection's
next sync back instead of holding a worker."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from dashboard.apply import BatchResult, apply_batch, backoff
from dashboard.evidence import Evidence
from dashboard.key_rotation import refuse_unreadable_token
from dashboard.logstore import logs_for, store_pieces
from dashboard.lookups import AnyOf
from dashboard.models import Build, Connection, Health, Job, Log, SyncRun
from dashboard.models.registry import model_named
from dashboard.ops.metrics import totals_after
from dashboard.signals import send_safely, sync_finished, sync_started
from dashboard.states import FINISHED, State
from dashboard.upsert import chunked
from providers.base.errors import (
    AuthError,
    BoundReached,
    ProviderError,
    RateLimited,
    Unavailable,
)
from providers.base.records import HeldBuild, LogPiece, SyncContext
from providers.registry import adapter_class

log = logging.getLogger(__name__)

__all__ = ["BatchResult", "apply_batch", "sync_connection"]

REPOLL_LIMIT = 500
RECHECK_LIMIT = 50
LOG_PREFETCH_LIMIT = 50
LOG_PREFETCH_WINDOW = timedelta(hours=1)
# A log fetch failing with one of these ends the sync; any other provider error is a
# problem of that one log.
SYNC_ENDING = (AuthError, Unavailable, RateLimited, BoundReached)
STORED_LIMIT = 10_000


# Lease -----------------------------------------------------------------------------------
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


class Lease:
    """Renews the lease at most every third of its life, from wherever the sync is
    (before each provider request and after each batch)."""

    def __init__(self, connection_id: int, owner: str):
        self.connection_id, self.owner = connection_id, owner
        self.renewed = time.monotonic()

    def keep(self) -> None:
        if time.monotonic() - self.renewed < settings.SYNC_LOCK_TTL / 3:
            return
        if not renew_lock(self.connection_id, self.owner):
            raise LockLost("The sync's lease ran out and another worker took over.")
        self.renewed = time.monotonic()


# What a sync starts from --------------------------------------------------------------------
def _held(build: dict, jobs: dict[int, dict]) -> HeldBuild:
    return HeldBuild(
        build["external_id"],
        build["project__external_id"],
        build["raw"] or {},
        jobs.get(build["id"], {}),
        state=build["state"],
        gone=build["gone"],
    )


def builds_to_read(connection: Connection) -> list[HeldBuild]:
    """The unfinished builds (every sync), then finished or gone ones whose recheck is
    due (bounded, with back-off)."""
    fields = ("id", "external_id", "project__external_id", "raw", "state", "gone")
    unfinished = list(
        Build.objects.filter(connection=connection, gone=False)
        .exclude(state__in=FINISHED)
        .order_by("synced_at")
        .values(*fields)[:REPOLL_LIMIT]
    )
    due = list(
        Build.objects.filter(connection=connection, recheck_at__lte=timezone.now())
        .exclude(pk__in=[b["id"] for b in unfinished])
        .order_by("recheck_at")
        .values(*fields)[:RECHECK_LIMIT]
    )
    builds = unfinished + due
    if not builds:
        return []  # the usual quiet sync: not even a query to build
    jobs: dict[int, dict] = {}
    for build_id, ext_id, state, raw in Job.objects.filter(build_id__in=[b["id"] for b in builds]).values_list(
        "build_id", "external_id", "state", "raw"
    ):
        jobs.setdefault(build_id, {})[ext_id] = {"state": state, "raw": raw}
    return [_held(b, jobs) for b in builds]


def control_build(connection: Connection) -> HeldBuild | None:
    """A recent finished build, read to tell "this one is gone" from "the provider
    answers 404 to everything right now"."""
    build = (
        Build.objects.filter(connection=connection, gone=False, state__in=FINISHED)
        .order_by("-created_at", "-id")
        .values("id", "external_id", "project__external_id", "raw", "state", "gone")
        .first()
    )
    return _held(build, {}) if build else None


def finished_ids(connection: Connection, external_ids: list[str]) -> set[str]:
    """Builds held as finished (never read again). Gone ones are not among them, so a
    listing that shows one again gets it read and restored."""
    return set(
        Build.objects.filter(
            AnyOf(F("external_id"), [i for i in external_ids if i]),
            connection=connection,
            state__in=FINISHED,
            gone=False,
        ).values_list("external_id", flat=True)
    )


def stored_rows(connection: Connection):
    def stored(model: str, fields: tuple[str, ...] = ("external_id",), **filters) -> list[dict]:
        rows = model_named(model).objects.filter(connection=connection, **filters)
        return list(rows.values(*fields)[:STORED_LIMIT])

    return stored


def context_for(connection: Connection) -> SyncContext:
    return SyncContext(
        cursor=dict(connection.sync_cursor or {}),
        repoll=builds_to_read(connection),
        finished_ids=lambda ids: finished_ids(connection, ids),
        find_control=lambda: control_build(connection),
        stored=stored_rows(connection),
        find_any_build=lambda: Build.objects.filter(connection=connection).exists(),
    )


# The sync ----------------------------------------------------------------------------------
@dataclass
class Outcome:
    health: str = Health.OK
    error: str = ""
    problems: list[str] = field(default_factory=list)
    # Seconds to wait before the next sync, when the provider asked for more than usual.
    wait: float | None = None
    bound: str = ""


def health_for(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, AuthError):
        return Health.AUTH_FAILED, str(exc)
    if isinstance(exc, Unavailable):
        return Health.UNREACHABLE, str(exc)
    if isinstance(exc, RateLimited):
        return Health.DEGRADED, f"{exc} (the next sync waits as asked)"
    if isinstance(exc, BoundReached):
        return Health.DEGRADED, f"The sync stopped early: {exc}"
    if isinstance(exc, ProviderError):
        return Health.DEGRADED, f"Unexpected answer: {exc}"
    return Health.DEGRADED, f"Internal error during sync: {exc.__class__.__name__}: {exc}"


def sync_connection(connection_id: int) -> SyncRun | None:
    """Sync one connection unless another worker is already doing it (returns None).
    The SyncRun returned is stored only when the sync wrote or found something."""
    owner = uuid.uuid4().hex
    before = Connection.objects.filter(pk=connection_id).values("lock_owner", "lock_until").first()
    if not acquire_lock(connection_id, owner):
        log.info("connection %s is already syncing; skipped", connection_id)
        return None
    try:
        connection = Connection.objects.get(pk=connection_id)
        if before and before["lock_owner"]:
            # The last sync's lease ran out without being released: its worker died.
            SyncRun.objects.create(
                connection=connection,
                status=SyncRun.Status.INTERRUPTED,
                finished_at=timezone.now(),
                error="The worker stopped before this sync finished; the next sync resumed from its cursor.",
            )
        return _run(connection, Lease(connection_id, owner))
    finally:
        release_lock(connection_id, owner)


def _run(connection: Connection, lease: Lease) -> SyncRun:
    if (refused := refuse_unreadable_token(connection)) is not None:
        return refused
    started = time.monotonic()
    run = SyncRun(connection=connection, started_at=timezone.now())
    adapter = adapter_class(connection.kind)(
        connection,
        budget=settings.SYNC_REQUEST_BUDGET,
        deadline=started + settings.SYNC_TIME_LIMIT,
        before_request=lease.keep,
    )
    outcome = Outcome()
    gathered = Evidence()
    finished_jobs: list[int] = []
    read: set[str] = set()
    ctx = None
    send_safely(sync_started, connection=connection)
    try:
        ctx = context_for(connection)
        for batch in adapter.sync(ctx):
            result = apply_batch(connection, batch, gathered)
            outcome.problems.extend(batch.problems)
            finished_jobs.extend(result.finished_job_ids)
            read |= result.builds_read
            run.created += result.created
            run.updated += result.updated
            run.unchanged += result.unchanged
            lease.keep()
        outcome.problems.extend(prefetch_logs(adapter, finished_jobs))
    except LockLost as exc:
        outcome.health, outcome.error = Health.DEGRADED, str(exc)
    except Exception as exc:
        if not isinstance(exc, ProviderError):
            log.exception("sync of connection %s failed", connection.pk)
        outcome.health, outcome.error = health_for(exc)
        if isinstance(exc, RateLimited) and exc.retry_after:
            outcome.wait = exc.retry_after
        if isinstance(exc, BoundReached):
            outcome.bound = str(exc)
    finally:
        adapter.close()
    outcome.problems.extend(gathered.problems)
    if ctx is not None:
        back_off_unread(connection, ctx, read)
    # Nothing held unfinished before the sync and nothing written by it: nothing runs, no
    # need to ask the database (a build an action starts meanwhile is the next sync's).
    may_run = ctx is None or bool(run.created or run.updated) or any(held_unfinished(h) for h in ctx.repoll)
    return _finish(connection, run, adapter, outcome, started, may_run)


def held_unfinished(held: HeldBuild) -> bool:
    return not held.gone and held.state not in FINISHED


def back_off_unread(connection: Connection, ctx: SyncContext, read: set[str]) -> None:
    """Finished or gone builds we meant to read again but could not: later, less often."""
    now = timezone.now()
    rechecks = [h.external_id for h in ctx.repoll if h.external_id not in read and not held_unfinished(h)]
    if not rechecks:
        return
    due = Build.objects.filter(connection=connection, external_id__in=rechecks, recheck_at__lte=now)
    for row in due.only("pk", "gone", "recheck_attempts"):
        attempts = row.recheck_attempts + 1
        give_up = row.gone and attempts > settings.GONE_RECHECK_ATTEMPTS
        Build.objects.filter(pk=row.pk).update(
            recheck_at=None if give_up else now + backoff(attempts), recheck_attempts=attempts
        )


def _finish(
    connection: Connection, run: SyncRun, adapter, outcome: Outcome, started: float, may_run: bool = True
) -> SyncRun:
    health, error = outcome.health, outcome.error
    if error:
        run.status = SyncRun.Status.PARTIAL if outcome.bound else SyncRun.Status.FAILED
    elif outcome.problems:
        run.status = SyncRun.Status.PARTIAL
        health = Health.DEGRADED
        error = f"{len(outcome.problems)} problem(s): " + "; ".join(outcome.problems[:5])
    else:
        run.status = SyncRun.Status.OK
    if error and outcome.problems and outcome.bound:
        error += f" Also: {'; '.join(outcome.problems[:3])}"
    run.error = error
    run.requests = adapter.requests
    run.finished_at = timezone.now()
    run.duration = round(time.monotonic() - started, 3)
    if run.status != SyncRun.Status.OK or run.created or run.updated:
        run.save()
        prune_runs(connection)
    troubled = health in (Health.UNREACHABLE,) or outcome.wait is not None or bool(outcome.bound)
    failures = connection.failures + 1 if troubled else 0
    now = timezone.now()
    interval = connection.sync_interval
    if not failures and interval > settings.SYNC_ACTIVE_INTERVAL and may_run and something_runs(connection):
        interval = settings.SYNC_ACTIVE_INTERVAL  # running builds are polled faster than history
    wait = timedelta(seconds=next_wait(interval, failures, outcome.wait))
    if failures or outcome.wait:
        next_at = now + wait  # a backoff, or what the provider asked for: never earlier
    else:
        # From when it fell due, so the period does not drift by each sync's length, and
        # on the connection's own slot, so connections that fell due together spread out.
        next_at = on_slot(connection.pk, (connection.due_at or now) + wait, wait)
    written = {
        "health": health,
        "last_error": error,
        "last_synced_at": now,
        "failures": failures,
        "next_sync_at": max(next_at, now + timedelta(seconds=1)),
        "due_at": None,
        "last_sync_lag": (run.started_at - connection.due_at).total_seconds() if connection.due_at else None,
    }
    written |= totals_after(connection, run)  # one row per sync, totals included
    Connection.objects.filter(pk=connection.pk).update(**written)
    # The receivers below see what was written, without reading the row back.
    for name, value in written.items():
        setattr(connection, name, value)
    send_safely(sync_finished, connection=connection, run=run)
    return run


def something_runs(connection: Connection) -> bool:
    unfinished = [State.QUEUED, State.RUNNING, State.BLOCKED]
    return Build.objects.filter(connection=connection, state__in=unfinished, gone=False).exists()


def prune_runs(connection: Connection) -> None:
    """Keep the last ``SYNC_RUNS_KEPT`` SyncRuns of a connection (the totals live on it)."""
    oldest_kept = (
        SyncRun.objects.filter(connection=connection)
        .order_by("-id")
        .values_list("id", flat=True)[settings.SYNC_RUNS_KEPT - 1 : settings.SYNC_RUNS_KEPT]
        .first()
    )
    if oldest_kept is not None:
        SyncRun.objects.filter(connection=connection, id__lt=oldest_kept).delete()


# Knuth's multiplicative hash: consecutive keys land far apart on the unit interval.
_SPREAD = 2654435761


def on_slot(key: int, moment: datetime, period: timedelta) -> datetime:
    """The slot nearest ``moment`` on ``key``'s grid: slots ``period`` apart, offset by a
    fraction of the period fixed per key (as Prometheus spreads its scrape targets).
    Connections that fell due together (at start, after an outage or a burst of manual
    syncs) would otherwise stay together, each period's work arriving at once; on their
    slots they spread evenly over the period by their next sync, and stay spread. A
    connection already on its slot keeps its period exactly; one off it moves by at most
    half a period, once."""
    seconds = period.total_seconds()
    if seconds <= 0:
        return moment
    offset = (key * _SPREAD % 2**32) / 2**32 * seconds
    slot = round((moment.timestamp() - offset) / seconds)
    return datetime.fromtimestamp(offset + slot * seconds, tz=UTC)


def next_wait(interval: float, failures: int, asked: float | None) -> float:
    """The usual interval; longer after failures in a row (doubling, capped); at least
    what the provider asked for."""
    wait = interval
    if failures:
        wait = min(interval * 2 ** (failures - 1), max(settings.SYNC_BACKOFF_MAX_SECONDS, interval))
    return max(wait, asked or 0)


def prefetch_logs(adapter, job_ids: list[int]) -> list[str]:
    """Store the logs of jobs seen finishing in this sync (recent ones only, so a first
    sync of a long history does not fetch thousands of logs; older ones load on view).

    The logs are read from the provider together (``concurrently``, within the sync's
    bounds) and stored one by one in the jobs' order, as reading them one after another
    would: up to the first error that ends the sync, each failure of one log a problem."""
    if not job_ids:
        return []
    problems = []
    recent = timezone.now() - LOG_PREFETCH_WINDOW
    jobs = list(
        Job.objects.filter(AnyOf(F("pk"), job_ids))
        .filter(Q(finished_at__gte=recent) | Q(finished_at__isnull=True))
        .exclude(log__complete=True)
        .select_related("build", "connection")[:LOG_PREFETCH_LIMIT]
    )
    if not jobs:
        return problems
    logs = logs_for(jobs)  # each resumes from its stored cursor

    def fetch(pair: tuple[Job, Log]) -> LogPiece | Exception:
        job, log = pair
        try:
            return adapter.fetch_log(job, dict(log.cursor or {}))
        except Exception as exc:  # taken up in the jobs' order below
            return exc

    pairs = list(zip(jobs, logs, strict=True))
    kept: list[tuple[Job, Log, LogPiece]] = []
    ending: Exception | None = None
    for (job, log), piece in zip(pairs, adapter.client.concurrently(fetch, pairs), strict=True):
        if isinstance(piece, ProviderError) and not isinstance(piece, SYNC_ENDING):
            problems.append(f"log of job {job.external_id}: {piece}")
        elif isinstance(piece, Exception):
            ending = piece  # ends the sync once the logs before it are stored
            break
        else:
            kept.append((job, log, piece))
    # Stored together (each dropped if its log moved on meanwhile): one by one, storing
    # fifty small logs took longer than fetching them.
    store_pieces([(job, log, dict(log.cursor or {}), piece) for job, log, piece in kept])
    if ending is not None:
        raise ending
    return problems


# Dispatch -----------------------------------------------------------------------------------
def dispatch_due(ahead: float = 0.0) -> dict[int, float]:
    """Connections whose next sync is due, or falls due within ``ahead`` seconds (before
    the next look), each with the seconds until it does (0 when due): the caller sends
    those with that countdown, so a sync starts at its due time rather than at the next
    look. Their next time moves on so the next look does not dispatch them again while
    they run. Connections in trouble (failing syncs in a row) take at most
    ``SYNC_TROUBLED_SLOTS`` worker slots at once, so providers that hang cannot hold
    every worker while healthy connections wait."""
    now = timezone.now()
    due = list(
        Connection.objects.filter(enabled=True, next_sync_at__lte=now + timedelta(seconds=ahead))
        .order_by("next_sync_at")
        .values_list("pk", "sync_interval", "failures", "next_sync_at")[: settings.SYNC_DISPATCH_LIMIT]
    )
    busy_troubled = Connection.objects.filter(failures__gt=0, lock_until__gt=now).count()
    room = max(settings.SYNC_TROUBLED_SLOTS - busy_troubled, 0)
    chosen: dict[int, list[int]] = {}
    waits: dict[int, float] = {}
    for pk, interval, failures, at in due:
        if failures:
            if not room:
                continue  # left due: picked up when a slot frees
            room -= 1
        chosen.setdefault(interval, []).append(pk)
        waits[pk] = max((at - now).total_seconds(), 0.0)
    # A statement per interval: remember when each falls due, and hold it for an interval
    # (the sync sets the real next time when it ends; a lost task is retried after that).
    for interval, pks in chosen.items():
        for part in chunked(pks):
            Connection.objects.filter(pk__in=part).update(
                due_at=F("next_sync_at"), next_sync_at=now + timedelta(seconds=max(interval, 1))
            )
    return waits
