"""Template helpers of the insights pages, and the small pieces other pages include:
a pipeline's trend section, and a job's usual duration and flaky marker on build pages."""

from __future__ import annotations

from django import template
from django.urls import reverse

register = template.Library()


@register.filter
def seconds(value: float | None) -> str:
    """Seconds for people: "45 s", "2 m 10 s", "1 h 5 m", "3 d 4 h"."""
    if value is None:
        return "—"
    if value == 0:
        return "0 s"
    if value < 1:
        return "< 1 s"
    total = round(value)
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} m {secs} s" if secs else f"{minutes} m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} m" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


@register.filter
def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:g} %"


@register.inclusion_tag("insights/partials/trend.html")
def insights_trend(pipeline) -> dict:
    """The pipeline page's trend: 30 days of builds, success rate and duration."""
    from dashboard.insights import charts, queries
    from dashboard.insights.scope import scope_from

    scope, _ = scope_from({}, pipeline=pipeline, days=30)
    rows, totals = queries.trends_and_totals(scope)
    for row, link in zip(rows, charts.day_links(scope, [r["day"] for r in rows]), strict=True):
        row["builds_url"] = link
    return {
        "rows": rows,
        "charts": charts.trend_charts(scope, rows),
        "totals": totals,
        "more_url": f"{reverse('insights')}?{scope.query(window=30)}",
    }


@register.simple_tag
def job_usual_times(build, jobs) -> dict:
    """For a build page: each job's usual duration and flakiness (two queries in all)."""
    from dashboard.insights.queries import usual_for_build

    return usual_for_build(build, list(jobs))


@register.inclusion_tag("insights/partials/job_insight.html")
def job_insight(usual: dict, job) -> dict:
    return {"info": (usual or {}).get(job.pk), "job": job}
