from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard.models import Connection, SyncRun
from dashboard.overview import active_builds_by_connection

RUNS_SHOWN = 5


def connection_list(request: HttpRequest) -> HttpResponse:
    """Every connection with its active builds and its last syncs: three queries however
    many connections there are (the runs come in one query, a window per connection)."""
    recent_runs = SyncRun.objects.order_by("-started_at", "-id")[:RUNS_SHOWN]
    connections = Connection.objects.prefetch_related(Prefetch("sync_runs", queryset=recent_runs, to_attr="recent"))
    active = active_builds_by_connection()
    rows = [(c, c.recent, active.get(c.pk, 0)) for c in connections]
    return render(request, "dashboard/connections.html", {"rows": rows})
