from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard.models import Connection, SyncRun
from dashboard.states import ACTIVE


def connection_list(request: HttpRequest) -> HttpResponse:
    connections = Connection.objects.annotate(builds_active=Count("build", filter=Q(build__state__in=ACTIVE)))
    runs = {c.pk: list(SyncRun.objects.filter(connection=c)[:5]) for c in connections}
    rows = [(c, runs[c.pk]) for c in connections]
    return render(request, "dashboard/connections.html", {"rows": rows})
