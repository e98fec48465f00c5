"""Events detected from synced data, sent once per rule.

Receivers of the sync hooks (dashboard.signals): after a batch, builds that reached a
verdict may have broken or fixed their pipeline x branch; after each sync, time-based
events are checked (still failing after N hours, a missed cron fire, a connection
unhealthy for N minutes). Each event is stored as a Delivery whose idempotency key names
the rule, the kind and what it is about (the build, the first failed build of the streak,
the schedule and its fire time, the first failed sync of the outage). The key is unique
in the database, so a batch seen twice, overlapping syncs or a restarted worker find the
delivery already there and queue nothing."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from dashboard.feeds.status import VERDICTS, pair_statuses
from dashboard.models import Build, Connection, Delivery, Health, NotificationRule, Schedule, SyncRun
from dashboard.public_errors import admin_error
from dashboard.signals import batch_applied, sync_finished
from dashboard.states import State

from . import rules as r
from .tasks import enqueue

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Event:
    key: str
    rule: NotificationRule
    kind: str
    title: str
    body: str


def connect() -> None:
    batch_applied.connect(on_batch_applied, dispatch_uid="dashboard.notify.batch_applied")
    sync_finished.connect(on_sync_finished, dispatch_uid="dashboard.notify.sync_finished")


def on_batch_applied(sender, connection: Connection, finished_build_ids=(), **kwargs) -> None:
    if not finished_build_ids:
        return  # no verdict can have changed: the rules need not be read
    rules = [rule for rule in r.active_rules(connection) if rule.on_break or rule.on_recover]
    if rules:
        record(verdict_changes(finished_build_ids, rules))


def on_sync_finished(sender, connection: Connection, run: SyncRun | None = None, **kwargs) -> None:
    rules = r.active_rules(connection)
    if not rules:
        return
    now = timezone.now()
    events = [
        *still_failing(connection, [x for x in rules if x.still_failing_hours], now),
        *missed_schedules(connection, [x for x in rules if x.on_missed_schedule], now),
        *unhealthy(connection, [x for x in rules if x.unhealthy_minutes], now),
    ]
    record(events)


def record(events: list[Event]) -> list[Delivery]:
    """Store each event once (its key is unique) and queue the new ones."""
    created = []
    for event in events:
        try:
            with transaction.atomic():
                delivery = Delivery.objects.create(
                    key=event.key[:255],
                    channel_id=event.rule.channel_id,
                    rule=event.rule,
                    kind=event.kind,
                    title=event.title[:255],
                    body=event.body,
                )
        except IntegrityError:
            continue  # seen before: sent, being sent, or queued
        created.append(delivery)
        transaction.on_commit(lambda pk=delivery.pk: enqueue(pk))
    return created


# Words ---------------------------------------------------------------------------------------
def link(obj) -> str:
    return settings.DASHBOARD_URL.rstrip("/") + obj.get_absolute_url()


def where(build: Build) -> str:
    name = build.pipeline.name if build.pipeline else (build.project.name if build.project else "build")
    return f"{name} on {build.branch}" if build.branch else name


def label(build: Build) -> str:
    return f"#{build.number}" if build.number else build.external_id[:12]


def build_facts(build: Build) -> str:
    project = build.project or (build.pipeline.project if build.pipeline else None)
    facts = [build.connection.kind_label, build.connection.name, project.name if project else ""]
    commit = " ".join(x for x in (build.commit_sha[:7], build.title or build.commit_message[:120]) if x)
    who = f" by {build.triggered_by}" if build.triggered_by else ""
    return " · ".join(f for f in facts if f) + (f"\n{commit}{who}" if commit or who else "")


# Breaks and recoveries --------------------------------------------------------------------
def verdict_changes(finished_build_ids, rules: list[NotificationRule]) -> list[Event]:
    finished = Build.objects.filter(
        pk__in=list(finished_build_ids), state__in=VERDICTS, pipeline__isnull=False, gone=False
    ).select_related("connection", "project", "pipeline", "pipeline__project")
    newest: dict[tuple[int, str], Build] = {}
    for build in finished:
        key = (build.pipeline_id, build.branch)
        if key not in newest or (build.created_at, build.pk) > (newest[key].created_at, newest[key].pk):
            newest[key] = build
    now, events = timezone.now(), []
    for build in newest.values():
        watching = [rule for rule in rules if r.covers_build(rule, build)]
        if not watching:
            continue
        last_two = list(
            Build.objects.filter(pipeline_id=build.pipeline_id, branch=build.branch, state__in=VERDICTS, gone=False)
            .order_by("-created_at", "-id")
            .only("id", "state", "number", "external_id")[:2]
        )
        if last_two[0].pk != build.pk or len(last_two) < 2 or last_two[1].state == build.state:
            continue  # a newer verdict exists, this is the first verdict, or nothing changed
        previous = last_two[1]
        broke = build.state == State.FAILED
        kind = Delivery.Kind.BREAK if broke else Delivery.Kind.RECOVER
        if broke:
            title = f"✗ {where(build)} broke"
            said = f"Build {label(build)} failed; {label(previous)} before it passed."
        else:
            title = f"✓ {where(build)} recovered"
            said = f"Build {label(build)} passed; {label(previous)} before it failed."
        body = f"{said}\n{build_facts(build)}\n{link(build)}"
        for rule in watching:
            wanted = rule.on_break if broke else rule.on_recover
            if wanted and r.is_news(rule, build.finished_at or build.created_at, now):
                events.append(Event(f"{kind}:r{rule.pk}:b{build.pk}", rule, kind, title, body))
    return events


# Still failing ------------------------------------------------------------------------------
def still_failing(connection: Connection, rules: list[NotificationRule], now: datetime) -> list[Event]:
    if not rules:
        return []
    filters = [rule.build_filter() for rule in rules]
    scope = Q()
    if all(filters):  # an empty filter (a rule watching everything) must not be OR-ed away
        for one in filters:
            scope |= one
    failing = [p for p in pair_statuses(Build.objects.filter(scope, connection=connection)) if p.passing is False]
    if not failing:
        return []
    same_pair = Build.objects.filter(pipeline_id=OuterRef("pipeline_id"), branch=OuterRef("branch"), gone=False)
    last_pass = same_pair.filter(state=State.PASSED).order_by("-created_at", "-id").values("created_at")[:1]
    first_fail = (
        same_pair.filter(state=State.FAILED, created_at__gt=OuterRef("passed_at"))
        .order_by("created_at", "id")
        .values("id")[:1]
    )
    starts = (
        Build.objects.filter(pk__in=[p.verdict.pk for p in failing])
        .annotate(passed_at=Coalesce(Subquery(last_pass), Value(EPOCH)))
        .annotate(streak_start=Subquery(first_fail))
        .values_list("pk", "streak_start")
    )
    first_of = dict(starts)
    firsts = Build.objects.in_bulk([i for i in first_of.values() if i])
    events = []
    for pair in failing:
        first = firsts.get(first_of.get(pair.verdict.pk))
        if first is None:
            continue
        since = first.finished_at or first.created_at
        for rule in rules:
            due = since + timedelta(hours=rule.still_failing_hours)
            if now < due or not r.covers_build(rule, pair.verdict) or not r.is_news(rule, due, now):
                continue
            latest = pair.verdict
            title = f"✗ {where(latest)} still failing after {rule.still_failing_hours} h"
            body = (
                f"Failing since build {label(first)} ({since:%Y-%m-%d %H:%M} UTC); the latest, {label(latest)}, "
                f"failed too.\n{build_facts(latest)}\n{link(latest)}"
            )
            kind = Delivery.Kind.STILL_FAILING
            events.append(Event(f"{kind}:r{rule.pk}:b{first.pk}", rule, kind, title, body))
    return events


# Missed schedules ---------------------------------------------------------------------------
def missed_fire(schedule: Schedule, now: datetime) -> datetime | None:
    """The fire time a schedule missed: the provider's own judgement when its adapter
    gives one (``raw["missed"]``, jobs platform), else a next fire time well past."""
    raw = schedule.raw or {}
    if "missed" in raw:
        if not raw.get("missed"):
            return None
        moment = raw.get("missed_fire_at") or raw.get("next_fire_at")
        try:
            return datetime.fromisoformat(moment.replace("Z", "+00:00")) if moment else schedule.next_run_at
        except (AttributeError, ValueError):
            return schedule.next_run_at
    grace = timedelta(seconds=settings.NOTIFY_SCHEDULE_GRACE)
    if schedule.next_run_at and schedule.next_run_at < now - grace:
        return schedule.next_run_at
    return None


def missed_schedules(connection: Connection, rules: list[NotificationRule], now: datetime) -> list[Event]:
    if not rules:
        return []
    grace = timedelta(seconds=settings.NOTIFY_SCHEDULE_GRACE)
    candidates = (
        Schedule.objects.filter(connection=connection, enabled=True)
        .filter(Q(raw__missed=True) | Q(next_run_at__lt=now - grace))
        .select_related("connection", "project", "pipeline")
    )
    events = []
    for schedule in candidates:
        fire = missed_fire(schedule, now)
        if fire is None:
            continue
        page = link(schedule.pipeline) if schedule.pipeline else link(connection)
        where_ = " · ".join(x for x in (connection.kind_label, connection.name, str(schedule.project or "")) if x)
        title = f"⚠ {schedule.name} missed its {fire:%H:%M} UTC run"
        body = (
            f"The schedule {schedule.cron} {schedule.timezone} should have started a run at "
            f"{fire:%Y-%m-%d %H:%M} UTC; none came.\n{where_}\n{page}"
        )
        kind = Delivery.Kind.MISSED_SCHEDULE
        for rule in rules:
            if r.covers_schedule(rule, schedule) and r.is_news(rule, fire, now):
                events.append(Event(f"{kind}:r{rule.pk}:s{schedule.pk}:{fire.isoformat()}", rule, kind, title, body))
    return events


# Unhealthy connections ----------------------------------------------------------------------
def unhealthy(connection: Connection, rules: list[NotificationRule], now: datetime) -> list[Event]:
    if not rules or connection.health in (Health.OK, Health.UNKNOWN):
        return []
    runs = SyncRun.objects.filter(connection=connection)
    last_ok = runs.filter(status=SyncRun.Status.OK).order_by("-started_at", "-id").values_list("started_at", flat=True)
    outage = runs.exclude(status__in=[SyncRun.Status.OK, SyncRun.Status.RUNNING, SyncRun.Status.INTERRUPTED])
    if (ok_at := last_ok.first()) is not None:
        outage = outage.filter(started_at__gt=ok_at)
    first_bad = outage.order_by("started_at", "id").first()
    if first_bad is None:
        return []
    events = []
    for rule in rules:
        due = first_bad.started_at + timedelta(minutes=rule.unhealthy_minutes)
        if now < due or not r.is_news(rule, due, now):
            continue
        title = f"⚠ {connection.name} unhealthy for {rule.unhealthy_minutes} min"
        error = admin_error(connection.last_error)  # a chat channel: credentials masked, truncated
        body = (
            f"{connection.kind_label} connection {connection.name} is {connection.get_health_display()} "
            f"since {first_bad.started_at:%Y-%m-%d %H:%M} UTC.\n{error}\n{link(connection)}"
        ).replace("\n\n", "\n")
        kind = Delivery.Kind.UNHEALTHY
        events.append(Event(f"{kind}:r{rule.pk}:c{connection.pk}:run{first_bad.pk}", rule, kind, title, body))
    return events
