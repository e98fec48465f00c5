"""Which rules care about what: a rule's scope (connection, project, pipeline, branch)
against a build or a schedule, and whether an event is news to a rule."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from dashboard.models import Build, Connection, NotificationRule, Schedule


def active_rules(connection: Connection) -> list[NotificationRule]:
    """Enabled rules with an enabled channel that may concern ``connection``."""
    return list(
        NotificationRule.objects.filter(enabled=True, channel__enabled=True)
        .filter(Q(connection__isnull=True) | Q(connection=connection))
        .select_related("channel")
    )


def covers_build(rule: NotificationRule, build: Build) -> bool:
    if rule.connection_id and rule.connection_id != build.connection_id:
        return False
    if rule.pipeline_id and rule.pipeline_id != build.pipeline_id:
        return False
    if rule.project_id and rule.project_id not in (
        build.project_id,
        build.pipeline.project_id if build.pipeline else None,
    ):
        return False
    return not rule.branch or rule.branch == build.branch


def covers_schedule(rule: NotificationRule, schedule: Schedule) -> bool:
    """Schedules have no branch: a rule's branch does not narrow them."""
    if rule.connection_id and rule.connection_id != schedule.connection_id:
        return False
    if rule.pipeline_id and rule.pipeline_id != schedule.pipeline_id:
        return False
    project_ids = (schedule.project_id, schedule.pipeline.project_id if schedule.pipeline else None)
    return not (rule.project_id and rule.project_id not in project_ids)


def is_news(rule: NotificationRule, moment: datetime, now: datetime | None = None) -> bool:
    """An event is sent only if it happened after the rule was made (a new rule does not
    replay history) and recently (a first sync of an old connection, or a worker that was
    stopped for days, does not flood the channel)."""
    now = now or timezone.now()
    slack = timedelta(seconds=settings.NOTIFY_CLOCK_SLACK)  # provider clocks run a little apart from ours
    return moment >= rule.created_at - slack and moment >= now - timedelta(hours=settings.NOTIFY_MAX_EVENT_AGE_HOURS)
