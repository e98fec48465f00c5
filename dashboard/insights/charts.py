"""Chart descriptions for static/insights.js: days on the x axis, one or more series,
the unit of the values, and for each day the link to the builds behind it. Colours are
named tones of the Okabe-Ito palette (safe for colour-blind readers); series also differ
by dash, so no meaning rests on colour alone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from django.urls import reverse

from .scope import Scope


def day_links(scope: Scope, days: list[str], **extra) -> list[str]:
    base = reverse("builds")
    return [f"{base}?{scope.query(day=d, **extra)}" for d in days]


def epoch(day: str) -> int:
    return int(datetime.combine(date.fromisoformat(day), time.min, tzinfo=UTC).timestamp())


def series(label: str, values: list, tone: str, dash: bool = False) -> dict:
    return {"label": label, "values": values, "tone": tone, "dash": dash}


def chart(key: str, title: str, unit: str, days: list[str], lines: list[dict], links: list[str] | None = None) -> dict:
    return {
        "id": key,
        "title": title,
        "unit": unit,
        "x": [epoch(d) for d in days],
        "days": days,
        "series": lines,
        "links": links or [],
    }


def trend_charts(scope: Scope, rows: list[dict]) -> list[dict]:
    days = [r["day"] for r in rows]
    links = day_links(scope, days)
    return [
        chart(
            "builds",
            "Builds per day",
            "count",
            days,
            [
                series("passed", [r["passed"] for r in rows], "blue"),
                series("failed", [r["failed"] for r in rows], "vermillion", dash=True),
                series("all builds", [r["builds"] for r in rows], "black"),
            ],
            links,
        ),
        chart(
            "success",
            "Success rate per day (passed of passed + failed)",
            "percent",
            days,
            [series("success rate", [r["success_rate"] for r in rows], "green")],
            links,
        ),
        chart(
            "duration",
            "Build duration per day",
            "seconds",
            days,
            [
                series("p50", [r["duration_p50"] for r in rows], "blue"),
                series("p95", [r["duration_p95"] for r in rows], "orange", dash=True),
            ],
            links,
        ),
    ]
