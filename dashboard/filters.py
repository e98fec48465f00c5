"""One FilterSet per list, shared by the pages and the API so both filter alike."""

from datetime import UTC, datetime, time, timedelta

import django_filters
from django.db.models import Q

from dashboard.models import Build, Connection
from dashboard.states import State
from providers.registry import KIND_CHOICES


class BuildFilter(django_filters.FilterSet):
    provider = django_filters.ChoiceFilter(field_name="connection__kind", choices=KIND_CHOICES, label="Provider")
    connection = django_filters.ModelChoiceFilter(
        queryset=Connection.objects.all(), field_name="connection", to_field_name="slug", label="Connection"
    )
    project = django_filters.CharFilter(method="filter_project", label="Project")
    pipeline = django_filters.CharFilter(method="filter_pipeline", label="Pipeline")
    # A prefix: "release/" finds every release branch.
    branch = django_filters.CharFilter(field_name="branch", lookup_expr="istartswith", label="Branch")
    day = django_filters.DateFilter(method="filter_day", label="Created on (UTC day)")
    state = django_filters.MultipleChoiceFilter(choices=State.choices, label="State")
    q = django_filters.CharFilter(method="filter_text", label="Search")

    class Meta:
        model = Build
        fields = ["provider", "connection", "project", "pipeline", "branch", "day", "state", "q"]

    def filter_project(self, queryset, name, value):
        return queryset.filter(Q(project__name=value) | Q(project__external_id=value))

    def filter_pipeline(self, queryset, name, value):
        return queryset.filter(Q(pipeline__name=value) | Q(pipeline__external_id=value))

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
