"""One FilterSet per list, shared by the pages and the API so both filter alike.

Each filter is written so an index answers it (see docs/performance.md): names are turned
into primary keys first, so the database sees ``project_id = 7`` and walks that project's
own recency index instead of the whole recent-builds index; multiple-choice filters never
add ``DISTINCT`` (it turns an ordered index scan into a sort of every match)."""

from datetime import UTC, datetime, time, timedelta

import django_filters
from django.db import models
from django.db.models import Q

from dashboard.models import Build, Connection, Pipeline, Project
from dashboard.states import State
from providers.registry import KIND_CHOICES

# More rows of one name than this are not a name anyone filters by.
MAX_NAMED = 200


def named(model: type[models.Model], value: str) -> list[int]:
    """Primary keys of the rows (projects, pipelines) called ``value`` or with that
    provider id: one small query, so the big query gets plain keys to look up."""
    value = value.strip()[:255]
    return list(model.objects.filter(Q(name=value) | Q(external_id=value)).values_list("pk", flat=True)[:MAX_NAMED])


def connections_of_kind(kind: str) -> list[int]:
    return list(Connection.objects.filter(kind=kind).values_list("pk", flat=True))


def connection_with_slug(slug: str) -> list[int]:
    return list(Connection.objects.filter(slug=slug[:60]).values_list("pk", flat=True))


class BuildFilter(django_filters.FilterSet):
    provider = django_filters.ChoiceFilter(method="filter_provider", choices=KIND_CHOICES, label="Provider")
    connection = django_filters.ModelChoiceFilter(
        queryset=Connection.objects.all(), field_name="connection", to_field_name="slug", label="Connection"
    )
    project = django_filters.CharFilter(method="filter_project", label="Project")
    pipeline = django_filters.CharFilter(method="filter_pipeline", label="Pipeline")
    # A prefix: "release/" finds every release branch.
    branch = django_filters.CharFilter(field_name="branch", lookup_expr="istartswith", label="Branch")
    day = django_filters.DateFilter(method="filter_day", label="Created on (UTC day)")
    state = django_filters.MultipleChoiceFilter(choices=State.choices, label="State", distinct=False)
    q = django_filters.CharFilter(method="filter_text", label="Search")

    class Meta:
        model = Build
        fields = ["provider", "connection", "project", "pipeline", "branch", "day", "state", "q"]

    def filter_provider(self, queryset, name, value):
        return queryset.filter(connection_id__in=connections_of_kind(value))

    def filter_project(self, queryset, name, value):
        return queryset.filter(project_id__in=named(Project, value))

    def filter_pipeline(self, queryset, name, value):
        return queryset.filter(pipeline_id__in=named(Pipeline, value))

    def filter_day(self, queryset, name, value):
        # A day of the insights charts; index-backed as a range on created_at.
        start = datetime.combine(value, time.min, tzinfo=UTC)
        return queryset.filter(created_at__gte=start, created_at__lt=start + timedelta(days=1))

    def filter_text(self, queryset, name, value):
        value = value.strip()[:200]
        if not value:
            return queryset
        return queryset.filter(
            Q(title__icontains=value)
            | Q(branch__icontains=value)
            | Q(commit_sha__startswith=value.lower())
            | Q(external_id=value)
        )
