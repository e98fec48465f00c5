"""Insights pages (under /insights/) and their API (under /api/insights/)."""

from django.contrib.auth.decorators import login_not_required
from django.urls import path
from rest_framework.urlpatterns import format_suffix_patterns

from . import api, views

urlpatterns = [
    path("", views.overview, name="insights"),
    path("flaky/", views.flaky, name="insights-flaky"),
    path("queue/", views.queue, name="insights-queue"),
    path("dora/", views.dora, name="insights-dora"),
]


def _api(view):
    # DRF authenticates API calls itself (session or basic) and answers 401/403 in JSON.
    return login_not_required(view.as_view())


api_urlpatterns = format_suffix_patterns(
    [
        path("trends/", _api(api.Trends), name="api-insights-trends"),
        path("jobs/", _api(api.Jobs), name="api-insights-jobs"),
        path("flakes/", _api(api.Flakes), name="api-insights-flakes"),
        path("time-red/", _api(api.TimeRed), name="api-insights-time-red"),
        path("queue/", _api(api.Queue), name="api-insights-queue"),
        path("capacity/", _api(api.Capacity), name="api-insights-capacity"),
        path("dora/", _api(api.Dora), name="api-insights-dora"),
    ],
    allowed=["json", "csv"],
)
