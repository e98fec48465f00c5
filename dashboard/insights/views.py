"""Insights pages: trends, flaky jobs, queue wait and capacity, DORA. Every figure comes
from ``queries`` (rollups only); charts are drawn by static/insights.js from a JSON
block, and every chart's numbers are also in a table."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from dashboard.models import Connection

from . import charts, queries
from .scope import WINDOWS, Scope, ScopeForm, scope_from

TABS = (
    ("insights", "Trends"),
    ("insights-flaky", "Flaky jobs"),
    ("insights-queue", "Queue & capacity"),
    ("insights-dora", "DORA"),
)


def page_context(request: HttpRequest, scope: Scope, form: ScopeForm, current: str) -> dict:
    query = scope.query(window=scope.days)
    return {
        "scope": scope,
        "form": form,
        "windows": WINDOWS,
        "connections": Connection.objects.only("name", "slug", "kind").order_by("name"),
        "tabs": [
            {"url": f"{reverse(name)}?{query}", "label": label, "current": name == current} for name, label in TABS
        ],
        "api_query": query,
        "builds_url": f"{reverse('builds')}?{scope.query()}",
    }


def overview(request: HttpRequest) -> HttpResponse:
    scope, form = scope_from(request.GET)
    rows, totals = queries.trends_and_totals(scope, waits=False)  # waits are on the queue page
    for row, link in zip(rows, charts.day_links(scope, [r["day"] for r in rows]), strict=True):
        row["builds_url"] = link
    slowest, failing = queries.slowest_and_failing(scope)
    context = page_context(request, scope, form, "insights")
    context.update(
        {
            "totals": totals,
            "rows": rows,
            "charts": charts.trend_charts(scope, rows),
            "slowest": slowest,
            "failing": failing,
            "red": queries.time_red(scope),
        }
    )
    return render(request, "insights/overview.html", context)


def flaky(request: HttpRequest) -> HttpResponse:
    scope, form = scope_from(request.GET)
    jobs = queries.flakiest_jobs(queries.job_stats(scope, durations=False))
    events = queries.flake_events(scope, jobs)
    for job in jobs:
        job["events"] = events.get((job["pipeline_key"], job["job"]), [])
    per_day = queries.flakes_per_day(scope)
    days = [r["day"] for r in per_day]
    context = page_context(request, scope, form, "insights-flaky")
    context.update(
        {
            "jobs": jobs,
            "per_day": per_day,
            "charts": [
                charts.chart(
                    "flakes",
                    "Failures per day, and those that passed on a later try",
                    "count",
                    days,
                    [
                        charts.series("failed jobs", [r["failures"] for r in per_day], "vermillion"),
                        charts.series("flaky failures", [r["flaky"] for r in per_day], "purple", dash=True),
                    ],
                    charts.day_links(scope, days, state="failed"),
                )
            ],
        }
    )
    return render(request, "insights/flaky.html", context)


def queue(request: HttpRequest) -> HttpResponse:
    scope, form = scope_from(request.GET)
    waits = queries.queue(scope, cells=False)
    per_day, machines = waits["per_day"], waits["machines"]
    builds, _ = queries.trends_and_totals(scope, durations=False)
    for row, build_row in zip(per_day, builds, strict=True):
        row["build_wait_p50"], row["build_wait_p95"] = build_row["wait_p50"], build_row["wait_p95"]
    days = [r["day"] for r in per_day]
    capacity = queries.capacity(scope)
    by_type = queries.capacity_by_type(capacity)
    for m in machines:
        m["agents"] = by_type.get(m["machine_type"])
    links = charts.day_links(scope, days)
    chart_list = [
        charts.chart(
            "job-wait",
            "Jobs: wait from queued to started",
            "seconds",
            days,
            [
                charts.series("p50", [r["wait_p50"] for r in per_day], "blue"),
                charts.series("p95", [r["wait_p95"] for r in per_day], "orange", dash=True),
            ],
            links,
        ),
        charts.chart(
            "build-wait",
            "Builds: wait from created to started",
            "seconds",
            days,
            [
                charts.series("p50", [r["wait_p50"] for r in builds], "blue"),
                charts.series("p95", [r["wait_p95"] for r in builds], "orange", dash=True),
            ],
            links,
        ),
    ]
    tones = ["blue", "vermillion", "green", "purple", "orange", "sky"]
    for i, name in enumerate(sorted(by_type)):
        rows = {r["day"]: r for r in capacity if r["agent_type"] == name}
        chart_list.append(
            charts.chart(
                f"agents-{i}",
                f"Agents of {name or 'no type'}: online and busy (daily mean)",
                "count",
                days,
                [
                    charts.series("online", [rows.get(d, {}).get("online_avg") for d in days], tones[i % len(tones)]),
                    charts.series("busy", [rows.get(d, {}).get("busy_avg") for d in days], "black", dash=True),
                ],
            )
        )
    context = page_context(request, scope, form, "insights-queue")
    context.update(
        {
            "per_day": per_day,
            "machines": machines,
            "capacity": capacity,
            "agent_types": by_type,
            "charts": chart_list,
            "capacity_scoped": scope.project_keys is not None or scope.pipeline_keys is not None or scope.branch,
        }
    )
    return render(request, "insights/queue.html", context)


def dora(request: HttpRequest) -> HttpResponse:
    scope, form = scope_from(request.GET)
    figures = queries.dora(scope)
    days = [r["day"] for r in figures["per_day"]]
    context = page_context(request, scope, form, "insights-dora")
    context.update(
        {
            "figures": figures,
            "charts": [
                charts.chart(
                    "deployments",
                    "Deployments per day",
                    "count",
                    days,
                    [
                        charts.series("succeeded", [r["succeeded"] for r in figures["per_day"]], "blue"),
                        charts.series("failed", [r["failed"] for r in figures["per_day"]], "vermillion", dash=True),
                    ],
                )
            ],
        }
    )
    return render(request, "insights/dora.html", context)
