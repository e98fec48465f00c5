from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from dashboard import dag, freshness
from dashboard.filters import BuildFilter
from dashboard.models import Build, Project
from dashboard.pagination import keyset_page
from dashboard.states import ACTIVE
from providers.registry import KIND_CHOICES

from .common import build_or_404

PAGE_SIZE = 50
PROJECT_SUGGESTIONS = 500


def build_list(request: HttpRequest) -> HttpResponse:
    """The first page refreshes itself: its poll carries the marker it was drawn at, and
    is answered 204 without running the filtered query while nothing changed."""
    connections = list(freshness.connections_for_marker("name", "slug", "kind"))
    marker = freshness.marker_of(connections)
    if (unchanged := freshness.unchanged(request, marker)) is not None:
        return unchanged
    queryset = Build.objects.rows()
    filters = BuildFilter(request.GET, queryset=queryset)
    page = keyset_page(filters.qs, request.GET.get("after"), PAGE_SIZE)
    query = request.GET.copy()
    query.pop("after", None)
    query.pop("seen", None)
    context = {
        "filters": filters,
        "page": page,
        "query": query.urlencode(),
        "first_page": not request.GET.get("after"),
        "connections": connections,
        "seen": marker,
        "poll_seconds": freshness.POLL_SECONDS,
    }
    if not request.htmx:
        context["provider_choices"] = KIND_CHOICES
        # Suggestions for the Project filter (which matches a name or a provider id exactly).
        context["project_names"] = (
            Project.objects.order_by("name").values_list("name", flat=True).distinct()[:PROJECT_SUGGESTIONS]
        )
    template = "dashboard/builds.html#rows" if request.htmx else "dashboard/builds.html"
    return render(request, template, context)


def build_detail(request: HttpRequest, kind: str, slug: str, external_id: str) -> HttpResponse:
    marker = freshness.marker_of(freshness.connections_for_marker(kind=kind, slug=slug))
    if (unchanged := freshness.unchanged(request, marker)) is not None:
        return unchanged
    build = build_or_404(kind, slug, external_id)
    jobs = list(build.jobs.defer("raw").select_related("connection"))
    context = {
        "build": build,
        "jobs": jobs,
        "graph": dag.layout(jobs) if jobs else None,
        "timeline": timeline(build, jobs),
        "live": build.state in ACTIVE or any(j.state in ACTIVE for j in jobs),
        "groups": _grouped(jobs),
        "seen": marker,
        "poll_seconds": freshness.POLL_SECONDS,
    }
    template = "dashboard/build.html#live" if request.htmx else "dashboard/build.html"
    return render(request, template, context)


def _grouped(jobs: list) -> list[tuple[str, list]]:
    groups: dict[str, list] = {}
    for job in jobs:
        groups.setdefault(job.group, []).append(job)
    return list(groups.items())


def job_end(job, build: Build, now) -> tuple[object, bool]:
    """When a job's bar ends, and whether that end is known. Only a job still in progress
    runs up to now; a finished job the provider gave no end (prunner never ends failed or
    canceled tasks) ends no later than its build, or is drawn as a mark of unknown length."""
    if job.finished_at:
        return job.finished_at, True
    if job.state in ACTIVE:
        return now, True
    if build.finished_at and build.finished_at >= job.started_at:
        return build.finished_at, False
    return job.started_at, False


def timeline(build: Build, jobs: list) -> dict | None:
    """Bars for a Gantt chart of the jobs, as percentages of the build's span."""
    started = [j for j in jobs if j.started_at]
    if not started:
        return None
    now = timezone.now()
    ends = {j.pk: job_end(j, build, now) for j in started}
    begin = min(j.started_at for j in started)
    end = max(ends[j.pk][0] for j in started)
    span = max((end - begin).total_seconds(), 1.0)
    bars = []
    for job in started:
        job_finish, known = ends[job.pk]
        left = (job.started_at - begin).total_seconds() / span * 100
        width = max((job_finish - job.started_at).total_seconds() / span * 100, 0.5)
        bars.append({"job": job, "left": round(left, 2), "width": round(min(width, 100 - left), 2), "end_known": known})
    return {"bars": bars, "seconds": int(span)}
