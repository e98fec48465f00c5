"""Which history an insights page or API call covers: the usual filters (provider,
connection, project, pipeline, branch) and a window of 7, 30 or 90 days ending today.

One form serves the pages and the API, as BuildFilter does for the builds list. A filter
that names nothing we know is reported in words and left out, so the rest still apply."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import urlencode

from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone

from dashboard.models import ALL_BRANCHES, ALL_PIPELINES, BuildDay, Connection, Pipeline, Project, QueueDay
from providers.registry import KIND_CHOICES

WINDOWS = (7, 30, 90)
DEFAULT_WINDOW = 30
MATCH_LIMIT = 500  # a name shared by more projects than this is not a useful filter


class ScopeForm(forms.Form):
    provider = forms.ChoiceField(choices=[("", "any"), *KIND_CHOICES], required=False)
    connection = forms.CharField(required=False, max_length=60)
    project = forms.CharField(required=False, max_length=255)
    pipeline = forms.CharField(required=False, max_length=255)
    branch = forms.CharField(required=False, max_length=255)
    window = forms.TypedChoiceField(
        choices=[(str(w), f"{w} days") for w in WINDOWS], coerce=int, required=False, empty_value=DEFAULT_WINDOW
    )

    def clean_connection(self) -> Connection | None:
        slug = self.cleaned_data.get("connection", "").strip()
        if not slug:
            return None
        found = Connection.objects.filter(slug=slug).first()
        if found is None:
            raise forms.ValidationError(f'No connection with the slug "{slug}".')
        return found

    def clean_branch(self) -> str:
        branch = self.cleaned_data.get("branch", "").strip()
        if branch == ALL_BRANCHES:
            return ""
        return branch


@dataclass
class Scope:
    """The filters, resolved to the keys rollup rows carry (None: no filter)."""

    days: int = DEFAULT_WINDOW
    end: date = field(default_factory=lambda: timezone.now().date())
    provider: str = ""
    connection: Connection | None = None
    project: str = ""
    pipeline: str = ""
    branch: str = ""
    connection_ids: list[int] | None = None
    project_keys: list[int] | None = None
    pipeline_keys: list[int] | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def start(self) -> date:
        return self.end - timedelta(days=self.days - 1)

    @property
    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]

    def rows(self, model) -> QuerySet:
        """Per-day rollup rows of the window, at the coarsest level that answers: rows of
        the pipelines asked for (one branch's, or every branch's); else, for build and
        queue rows, the every-pipeline rows of the projects or connections asked for."""
        qs = model.objects.filter(day__gte=self.start, day__lte=self.end, branch=self.branch or ALL_BRANCHES)
        if self.pipeline_keys is not None or model not in (BuildDay, QueueDay):
            return self.narrow(qs.filter(pipeline_key__gte=0))
        qs = qs.filter(pipeline_key=ALL_PIPELINES)
        if self.project_keys is None:
            qs = qs.filter(project_key=ALL_PIPELINES)
        return self.narrow(qs)

    def narrow(self, qs: QuerySet, connection_field: str = "connection_id") -> QuerySet:
        if self.connection_ids is not None:
            qs = qs.filter(**{f"{connection_field}__in": self.connection_ids})
        if self.project_keys is not None and hasattr(qs.model, "project_key"):
            qs = qs.filter(project_key__in=self.project_keys)
        if self.pipeline_keys is not None and hasattr(qs.model, "pipeline_key"):
            qs = qs.filter(pipeline_key__in=self.pipeline_keys)
        return qs

    def query(self, **extra) -> str:
        """The filters as a query string, for links between pages and to the builds list."""
        params = {
            "provider": self.provider,
            "connection": self.connection.slug if self.connection else "",
            "project": self.project,
            "pipeline": self.pipeline,
            "branch": self.branch,
            **extra,
        }
        return urlencode({k: v for k, v in params.items() if v not in ("", None)})

    def as_dict(self) -> dict:
        return {
            "provider": self.provider or None,
            "connection": self.connection.slug if self.connection else None,
            "project": self.project or None,
            "pipeline": self.pipeline or None,
            "branch": self.branch or None,
            "window_days": self.days,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }


def _named(model, value: str, connection: Connection | None, provider: str) -> list[int]:
    qs = model.objects.filter(Q(name=value) | Q(external_id=value))
    if connection is not None:
        qs = qs.filter(connection=connection)
    if provider:
        qs = qs.filter(connection__kind=provider)
    return list(qs.values_list("pk", flat=True)[:MATCH_LIMIT])


def scope_from(params, *, pipeline: Pipeline | None = None, days: int | None = None) -> tuple[Scope, ScopeForm]:
    """Resolve request parameters (or a given pipeline, for its page) into a Scope."""
    form = ScopeForm(params)
    form.is_valid()
    data = form.cleaned_data
    scope = Scope(days=days or data.get("window") or DEFAULT_WINDOW)
    scope.errors = [str(e) for errs in form.errors.values() for e in errs]
    scope.provider = data.get("provider") or ""
    scope.connection = data.get("connection")
    scope.branch = data.get("branch") or ""
    if pipeline is not None:
        scope.connection = pipeline.connection
        scope.pipeline = pipeline.external_id
        scope.pipeline_keys = [pipeline.pk]
    if scope.connection is not None:
        scope.connection_ids = [scope.connection.pk]
    elif scope.provider:
        scope.connection_ids = list(Connection.objects.filter(kind=scope.provider).values_list("pk", flat=True))
    for name, model in (("project", Project), ("pipeline", Pipeline)):
        value = (data.get(name) or "").strip()
        if not value or (name == "pipeline" and pipeline is not None):
            continue
        keys = _named(model, value, scope.connection, scope.provider)
        if not keys:
            scope.errors.append(
                f'No {name} named "{value}"{" in " + scope.connection.name if scope.connection else ""}.'
            )
            continue
        setattr(scope, name, value)
        setattr(scope, f"{name}_keys", keys)
    return scope, form
