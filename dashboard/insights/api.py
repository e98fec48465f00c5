"""Every insights figure in the REST API, as JSON (``{"scope", "rows", ...}``) or as CSV
(``?format=csv`` or a ``.csv`` path: the rows only, one header line). Filters are the
pages' (provider, connection, project, pipeline, branch, window); a filter that names
nothing known answers 400 with the reason. Durations and waits are seconds (read from
log-scale buckets, within 4.5 %), rates are percentages."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_csv.renderers import CSVRenderer

from . import queries
from .scope import WINDOWS, Scope, scope_from

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class RowsCSVRenderer(CSVRenderer):
    """The ``rows`` of an answer as CSV, columns in the answer's order. A text cell that
    a spreadsheet would run as a formula (a branch named ``=HYPERLINK(...)``) is quoted
    with a leading apostrophe."""

    def render(self, data, media_type=None, renderer_context=None, writer_opts=None):
        context = dict(renderer_context or {})
        if isinstance(data, dict) and "rows" in data:
            context.setdefault("header", data.get("columns"))
            data = data["rows"]
        elif isinstance(data, dict):  # an error answer
            data = [{"error": "; ".join(str(v) for v in data.values())}]
        return super().render([self.safe(row) for row in data], media_type, context)

    @staticmethod
    def safe(row: dict) -> dict:
        return {k: "'" + v if isinstance(v, str) and v.startswith(FORMULA_START) else v for k, v in row.items()}


FILTERS = [
    OpenApiParameter("provider", str, description="Provider kind, e.g. semaphore"),
    OpenApiParameter("connection", str, description="Connection slug"),
    OpenApiParameter("project", str, description="Project name or provider id"),
    OpenApiParameter("pipeline", str, description="Pipeline name or provider id"),
    OpenApiParameter("branch", str, description="One branch (default: all branches together)"),
    OpenApiParameter("window", int, enum=list(WINDOWS), description="Days ending today (UTC); default 30"),
    OpenApiParameter("format", str, enum=["json", "csv"], description="csv: the rows as CSV"),
]


class InsightsView(APIView):
    renderer_classes = [JSONRenderer, RowsCSVRenderer]
    columns: tuple[str, ...] = ()

    def figures(self, scope: Scope) -> dict:
        raise NotImplementedError

    @extend_schema(parameters=FILTERS, responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT})
    def get(self, request: Request, format: str | None = None) -> Response:
        scope, _ = scope_from(request.query_params)
        if scope.errors:
            return Response({"errors": scope.errors}, status=400)
        answer = {"scope": scope.as_dict(), **self.figures(scope)}
        answer["rows"] = [{c: row.get(c) for c in self.columns} for row in answer["rows"]]
        answer["columns"] = list(self.columns)
        return Response(answer)


class Trends(InsightsView):
    """Per day: builds, outcomes, success rate, build duration and wait percentiles."""

    columns = (
        "day",
        "builds",
        "passed",
        "failed",
        "canceled",
        "other",
        "success_rate",
        "duration_p50",
        "duration_p95",
        "wait_p50",
        "wait_p95",
    )

    def figures(self, scope):
        rows, totals = queries.trends_and_totals(scope)
        return {"totals": totals, "rows": rows}


class Jobs(InsightsView):
    """Per pipeline and job name: runs, failures, flakes, duration percentiles, last
    failure. ``sort``: ``duration_p95`` (default, slowest first), ``failure_rate``,
    ``flake_rate``."""

    columns = (
        "connection",
        "pipeline",
        "job",
        "runs",
        "failures",
        "failure_rate",
        "flaky",
        "flake_rate",
        "duration_p50",
        "duration_p95",
        "last_failure_at",
        "last_failure_url",
    )
    SORTS = ("duration_p95", "failure_rate", "flake_rate")

    @extend_schema(
        parameters=[*FILTERS, OpenApiParameter("sort", str, enum=list(SORTS))],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
    )
    def get(self, request, format=None):
        if request.query_params.get("sort", "duration_p95") not in self.SORTS:
            return Response({"errors": [f"sort must be one of {', '.join(self.SORTS)}."]}, status=400)
        return super().get(request, format)

    def figures(self, scope):
        key = self.request.query_params.get("sort", "duration_p95")
        stats = queries.job_stats(scope)
        rows = sorted(stats, key=lambda s: (-(s[key] or 0), s["job"], s["pipeline_key"]))
        return {"rows": queries.described(rows)}


class Flakes(InsightsView):
    """Every flake of the window: a failed job and the later try that passed."""

    columns = ("day", "pipeline", "job", "branch", "commit", "kind", "failed_at", "failed_url", "passed_url")

    def figures(self, scope):
        stats = queries.flakiest_jobs(queries.job_stats(scope, durations=False), limit=10_000)
        events = queries.flake_events(scope, stats, per_job=10_000)
        rows = [
            {"pipeline": job["pipeline"], "job": job["job"], **e}
            for job in stats
            for e in events.get((job["pipeline_key"], job["job"]), [])
        ]
        return {
            "flaky_jobs": [{k: j[k] for k in ("pipeline", "job", "runs", "flaky", "flake_rate")} for j in stats],
            "rows": rows,
        }


class TimeRed(InsightsView):
    """Per pipeline: time its default branch was red, spells, time to fix."""

    columns = (
        "connection",
        "pipeline",
        "branch",
        "red_seconds",
        "red_share",
        "spells",
        "failed_builds",
        "time_to_fix_p50",
        "time_to_fix_max",
        "red_since",
    )

    def figures(self, scope):
        return {"rows": queries.time_red(scope)}


class Queue(InsightsView):
    """Per day and machine or agent type: jobs started, wait p50/p95 (queued -> started);
    ``machines`` sums the window per type."""

    columns = ("day", "machine_type", "jobs", "wait_p50", "wait_p95")

    def figures(self, scope):
        waits = queries.queue(scope)
        rows = [{**day, "machine_type": "(all)"} for day in waits["per_day"]] + waits["rows"]
        return {"machines": waits["machines"], "rows": rows}


class Capacity(InsightsView):
    """Per agent type and day: agents online and busy (mean and peak of the samples taken
    at each sync) and the share of samples with every online agent busy."""

    columns = ("agent_type", "day", "samples", "online_avg", "online_max", "busy_avg", "busy_max", "saturated_share")

    def figures(self, scope):
        return {"rows": queries.capacity(scope)}


class Dora(InsightsView):
    """Per project and deployment target: deployments, deployments per day, lead time
    p50, change failure rate, time to restore p50; ``overall`` for the whole scope."""

    columns = (
        "project",
        "target",
        "deployments",
        "succeeded",
        "failed",
        "per_day",
        "lead_time_p50",
        "change_failure_rate",
        "time_to_restore_p50",
    )

    def figures(self, scope):
        figures = queries.dora(scope)
        return {"overall": figures["overall"], "per_day": figures["per_day"], "rows": figures["targets"]}
