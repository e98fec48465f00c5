"""FilterSets for the API's lists, in the spirit of ``dashboard.filters.BuildFilter``: every
list narrows by provider and connection, and by project, pipeline, state, branch and time
where those mean something. Time ranges are ``<name>_after`` / ``<name>_before`` with ISO
8601 values; a bad value answers 400 naming the parameter."""

from datetime import UTC, datetime

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField, RangeField
from django_filters.widgets import DateRangeWidget

from dashboard.filters import BuildFilter, connection_with_slug, connections_of_kind, named
from dashboard.models import (
    ActionLog,
    Agent,
    AgentType,
    Deployment,
    DeploymentTarget,
    Job,
    RetentionPolicy,
    Schedule,
    SyncRun,
)
from dashboard.states import State
from providers.registry import KIND_CHOICES

__all__ = [
    "ActionLogFilter",
    "AgentFilter",
    "AgentTypeFilter",
    "BuildApiFilter",
    "DeploymentFilter",
    "DeploymentTargetFilter",
    "JobFilter",
    "RetentionPolicyFilter",
    "ScheduleFilter",
    "SyncRunFilter",
]


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 time, turned to UTC: Python takes offsets up to ±23:59, PostgreSQL only
    up to ±15:59, and a time that leaves the calendar in UTC is refused here, by name."""

    def to_python(self, value) -> datetime | None:
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError as exc:
            raise ValidationError("This time is out of range.", code="invalid") from exc


class UtcDateTimeRangeField(RangeField):
    widget = DateRangeWidget

    def __init__(self, *args, **kwargs):
        super().__init__((UtcDateTimeField(), UtcDateTimeField()), *args, **kwargs)


class TimeRange(django_filters.IsoDateTimeFromToRangeFilter):
    """``<name>_after`` / ``<name>_before``, inclusive, in ISO 8601."""

    field_class = UtcDateTimeRangeField


def by_name_or_id(prefix: str):
    """Filter on a related row named by its name or its provider id (``project``,
    ``pipeline``), looked up first so the list's query compares plain keys."""

    def method(queryset, name, value):
        related = queryset.model._meta.get_field(prefix.split("__")[0])
        for part in prefix.split("__")[1:]:
            related = related.related_model._meta.get_field(part)
        return queryset.filter(**{f"{prefix}_id__in": named(related.related_model, value)})

    return method


class BySlug:
    """``connection`` by slug, looked up first: a slug that names no connection matches
    nothing, like any other value that matches nothing."""

    def filter_connection(self, queryset, name, value):
        return queryset.filter(connection_id__in=connection_with_slug(value))


class ConnectionScopedFilter(BySlug, django_filters.FilterSet):
    """``provider`` (a kind) and ``connection`` (a slug), on any model with a connection."""

    provider = django_filters.ChoiceFilter(method="filter_provider", choices=KIND_CHOICES, label="Provider")
    connection = django_filters.CharFilter(method="filter_connection", label="Connection (slug)")

    def filter_provider(self, queryset, name, value):
        return queryset.filter(connection_id__in=connections_of_kind(value))


class BuildApiFilter(BySlug, BuildFilter):
    """The builds page's filters, plus pipeline and time ranges."""

    connection = django_filters.CharFilter(method="filter_connection", label="Connection (slug)")
    pipeline = django_filters.CharFilter(method=by_name_or_id("pipeline"), label="Pipeline (name or id)")
    created = TimeRange(field_name="created_at", label="Created")
    finished = TimeRange(field_name="finished_at", label="Finished")
    gone = django_filters.BooleanFilter(field_name="gone", label="Gone from the provider")

    class Meta(BuildFilter.Meta):
        fields = [*BuildFilter.Meta.fields, "pipeline", "created", "finished", "gone"]


class JobFilter(ConnectionScopedFilter):
    build = django_filters.CharFilter(field_name="build__external_id", label="Build (provider id)")
    project = django_filters.CharFilter(method=by_name_or_id("build__project"), label="Project (name or id)")
    pipeline = django_filters.CharFilter(method=by_name_or_id("build__pipeline"), label="Pipeline (name or id)")
    branch = django_filters.CharFilter(field_name="build__branch", label="Branch")
    state = django_filters.MultipleChoiceFilter(choices=State.choices, label="State", distinct=False)
    name = django_filters.CharFilter(field_name="name", label="Job name")
    group = django_filters.CharFilter(field_name="group", label="Group (block, stage)")
    allowed_failure = django_filters.BooleanFilter(field_name="allowed_failure", label="Allowed to fail")
    started = TimeRange(field_name="started_at", label="Started")
    finished = TimeRange(field_name="finished_at", label="Finished")

    class Meta:
        model = Job
        fields = [
            "provider",
            "connection",
            "build",
            "project",
            "pipeline",
            "branch",
            "state",
            "name",
            "group",
            "allowed_failure",
            "started",
            "finished",
        ]


class ScheduleFilter(ConnectionScopedFilter):
    project = django_filters.CharFilter(method=by_name_or_id("project"), label="Project (name or id)")
    pipeline = django_filters.CharFilter(method=by_name_or_id("pipeline"), label="Pipeline (name or id)")
    enabled = django_filters.BooleanFilter(field_name="enabled", label="Enabled")
    next_run = TimeRange(field_name="next_run_at", label="Next run")

    class Meta:
        model = Schedule
        fields = ["provider", "connection", "project", "pipeline", "enabled", "next_run"]


class AgentTypeFilter(ConnectionScopedFilter):
    class Meta:
        model = AgentType
        fields = ["provider", "connection"]


class AgentFilter(ConnectionScopedFilter):
    agent_type = django_filters.CharFilter(field_name="agent_type__name", label="Agent type")
    state = django_filters.CharFilter(field_name="state", label="State, as the provider says it")
    connected = TimeRange(field_name="connected_at", label="Connected")

    class Meta:
        model = Agent
        fields = ["provider", "connection", "agent_type", "state", "connected"]


class DeploymentTargetFilter(ConnectionScopedFilter):
    project = django_filters.CharFilter(method=by_name_or_id("project"), label="Project (name or id)")
    active = django_filters.BooleanFilter(field_name="active", label="Active")

    class Meta:
        model = DeploymentTarget
        fields = ["provider", "connection", "project", "active"]


class DeploymentFilter(ConnectionScopedFilter):
    """A target's history: by target, project, who triggered it, state and time."""

    target = django_filters.CharFilter(method="filter_target", label="Target (name or id)")
    project = django_filters.CharFilter(method=by_name_or_id("target__project"), label="Project (name or id)")
    triggered_by = django_filters.CharFilter(field_name="triggered_by", label="Triggered by")
    state = django_filters.CharFilter(field_name="state", label="State, as the provider says it")
    triggered = TimeRange(field_name="triggered_at", label="Triggered")

    class Meta:
        model = Deployment
        fields = ["provider", "connection", "target", "project", "triggered_by", "state", "triggered"]

    def filter_target(self, queryset, name, value):
        return queryset.filter(target_id__in=named(DeploymentTarget, value))


class RetentionPolicyFilter(ConnectionScopedFilter):
    project = django_filters.CharFilter(method=by_name_or_id("project"), label="Project (name or id)")

    class Meta:
        model = RetentionPolicy
        fields = ["provider", "connection", "project"]


class ActionLogFilter(ConnectionScopedFilter):
    action = django_filters.CharFilter(field_name="action", label="Action name")
    username = django_filters.CharFilter(field_name="username", label="Who")
    ok = django_filters.BooleanFilter(field_name="ok", label="Succeeded")
    created = TimeRange(field_name="created_at", label="When")

    class Meta:
        model = ActionLog
        fields = ["provider", "connection", "action", "username", "ok", "created"]


class SyncRunFilter(ConnectionScopedFilter):
    status = django_filters.MultipleChoiceFilter(choices=SyncRun.Status.choices, label="Status", distinct=False)
    started = TimeRange(field_name="started_at", label="Started")

    class Meta:
        model = SyncRun
        fields = ["provider", "connection", "status", "started"]
