"""The overview (home), the wallboard for a TV, and the tiny state endpoint the favicon
reads."""

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from dashboard import freshness, overview
from dashboard.filters import BuildFilter
from dashboard.models import Build

WALL_TILES = 60
WALL_FILTERS = ("provider", "connection", "project", "pipeline", "branch")
RED_SHOWN = 25
LANES_SHOWN = 40
# The builds list used to live at "/": links made then, with its filters, still work.
BUILD_LIST_PARAMS = ("provider", "connection", "project", "branch", "state", "q", "after")
# The overview of one marker is shared this long (its 24-hour counts age with time).
OVERVIEW_CACHE_SECONDS = 30


def home(request: HttpRequest) -> HttpResponse:
    """Health per connection, what runs, what is red, counts. Refreshes itself: the poll
    is answered 204 with one small query until a sync or an action changes something."""
    if not request.htmx and any(name in request.GET for name in BUILD_LIST_PARAMS):
        return redirect(f"{reverse('builds')}?{request.GET.urlencode()}")
    connections = list(freshness.connections_for_marker("name", "slug", "kind"))
    marker = freshness.marker_of(connections)
    if (unchanged := freshness.unchanged(request, marker)) is not None:
        return unchanged
    context = {
        "connections": connections,
        "seen": marker,
        "poll_seconds": freshness.POLL_SECONDS,
        # Every open tab asks after each change: the first one computes, the rest share it.
        **cache.get_or_set(f"overview:{marker}", _what_runs_and_what_is_red, OVERVIEW_CACHE_SECONDS),
    }
    template = "dashboard/overview.html#live" if request.htmx else "dashboard/overview.html"
    return render(request, template, context)


def _what_runs_and_what_is_red() -> dict:
    lane_list = overview.lanes()
    running = overview.running_now(overview.RUNNING_SHOWN + 1)
    return {
        "running": running[: overview.RUNNING_SHOWN],
        "more_running": len(running) > overview.RUNNING_SHOWN,
        "red": [lane for lane in lane_list if lane.red][:RED_SHOWN],
        "lanes": lane_list[:LANES_SHOWN],
        "more_lanes": max(len(lane_list) - LANES_SHOWN, 0),
        "counts": overview.counts(lane_list),
        "live": bool(running),
    }


class WallFilter(BuildFilter):
    """The builds list's filters, plus the pipeline by name."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.form.fields.pop("state", None)
        self.form.fields.pop("q", None)

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        pipeline = (self.data.get("pipeline") or "").strip()[:255]
        return queryset.filter(pipeline__name=pipeline) if pipeline else queryset


def wall(request: HttpRequest) -> HttpResponse:
    """Big tiles per pipeline and branch for a screen across the room; the filters live in
    the URL so a team bookmarks its own board."""
    filters = WallFilter(request.GET, queryset=Build.objects.all())
    lane_list = overview.lanes(filters.qs) if filters.is_valid() else []
    shown = {k: v for k, v in request.GET.items() if v and k in WALL_FILTERS}
    context = {
        "tiles": lane_list[:WALL_TILES],
        "hidden_tiles": max(len(lane_list) - WALL_TILES, 0),
        "filters": filters,
        "shown_filters": shown,
        "red": sum(1 for lane in lane_list if lane.red),
    }
    template = "dashboard/wall.html#tiles" if request.htmx else "dashboard/wall.html"
    return render(request, template, context)


@never_cache
def status(request: HttpRequest) -> JsonResponse:
    """The overall state, for the favicon: red, running, green or unknown."""
    return JsonResponse({"state": overview.overall_state()})
