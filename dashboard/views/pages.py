"""Pages of provider objects other than builds and jobs: a connection, a project, a
pipeline (build definition)."""

from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, render

from dashboard.actions import find_target
from dashboard.models import Build, Pipeline, Project, Schedule, SyncRun
from dashboard.pagination import keyset_page
from dashboard.panels import render_panel

from .common import connection_or_404

RECENT = 20


def _recent_builds(request: HttpRequest, **lookup):
    builds = Build.objects.filter(**lookup).rows()
    return keyset_page(builds, request.GET.get("after"), RECENT)


def connection_detail(request: HttpRequest, kind: str, slug: str) -> HttpResponse:
    connection = connection_or_404(kind, slug)
    return render(
        request,
        "dashboard/connection.html",
        {
            "connection": connection,
            "projects": Project.objects.filter(connection=connection).defer("raw"),
            # Providers without projects (prunner) hang their pipelines off the connection.
            "pipelines": Pipeline.objects.filter(connection=connection, project__isnull=True).defer("raw"),
            "runs": SyncRun.objects.filter(connection=connection)[:10],
            "page": _recent_builds(request, connection=connection),
        },
    )


def project_detail(request: HttpRequest, kind: str, slug: str, external_id: str) -> HttpResponse:
    connection = connection_or_404(kind, slug)
    project = get_object_or_404(Project, connection=connection, external_id=external_id)
    return render(
        request,
        "dashboard/project.html",
        {
            "connection": connection,
            "project": project,
            "pipelines": Pipeline.objects.filter(project=project).defer("raw"),
            "schedules": Schedule.objects.filter(project=project).select_related("pipeline"),
            "page": _recent_builds(request, project=project),
        },
    )


def pipeline_detail(request: HttpRequest, kind: str, slug: str, external_id: str) -> HttpResponse:
    connection = connection_or_404(kind, slug)
    pipeline = get_object_or_404(
        Pipeline.objects.select_related("project"), connection=connection, external_id=external_id
    )
    return render(
        request,
        "dashboard/pipeline.html",
        {
            "connection": connection,
            "pipeline": pipeline,
            "schedules": Schedule.objects.filter(pipeline=pipeline),
            "page": _recent_builds(request, pipeline=pipeline),
        },
    )


def panel(request: HttpRequest, kind: str, slug: str, name: str, target: str, external_id: str) -> HttpResponse:
    """A provider panel on its own, for pages that load it after they render."""
    connection = connection_or_404(kind, slug)
    try:
        obj = find_target(connection, target, external_id)
    except LookupError as exc:
        raise Http404("No such target.") from exc
    html = render_panel(request, obj, name, {"csrf_token": get_token(request)})
    return HttpResponse(html or '<div class="panel-slot"></div>')
