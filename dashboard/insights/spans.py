"""Job rows summed over aligned spans of days, so a window of any length reads a few
rows per job instead of one per day (a 90-day window: about a dozen).

A span of ``n`` days starts on a day whose ordinal is a multiple of ``n``; spans of
2 ... 64 days are ``JobSpan`` rows, single days are the every-branch ``JobDay`` rows.
Each span is the sum of its two halves, so a changed day updates one span per level."""

from __future__ import annotations

from datetime import date

from dashboard.models import ALL_BRANCHES, JobDay, JobSpan

from .store import replace_rows

LEVELS = (2, 4, 8, 16, 32, 64)
KEY = ("connection_id", "pipeline_key", "span", "start", "project_key", "job_name")
FIELDS = ("runs", "failures", "flaky", "duration_hist", "p95_bucket", "last_failure_job", "last_failure_at")


def cover(start: date, end: date) -> list[tuple[int, date]]:
    """The fewest aligned spans that tile ``start`` ... ``end`` (inclusive), as
    (days, first day); one-day spans are single days."""
    first, last = start.toordinal(), end.toordinal()
    found = []
    while first <= last:
        span = max((s for s in LEVELS if first % s == 0 and first + s - 1 <= last), default=1)
        found.append((span, date.fromordinal(first)))
        first += span
    return found


def refresh(connection_id: int, day: date, pipelines: set[int]) -> None:
    """Recompute the spans of these pipelines that contain ``day`` after its job rows
    changed: one span per level, each the sum of its two halves."""
    refresh_days(connection_id, {day: pipelines})


def refresh_days(connection_id: int, days: dict[date, set[int]]) -> None:
    """``refresh`` for several days at once, level by level: every span of a level that
    contains any of the days is recomputed, for the pipelines of all of them, in one
    read of the level below and one write, after the level below (a first sync's days
    would otherwise cost a read and a write per span: most of its rollup time)."""
    pipelines = set().union(*days.values())
    if not pipelines:
        return
    for span in LEVELS:
        starts = sorted({n - n % span for n in (day.toordinal() for day in days)})
        recompute(connection_id, span, starts, pipelines)


def recompute(connection_id: int, span: int, starts: list[int], pipelines: set[int]) -> None:
    """The spans of these pipelines starting on these day ordinals, from their halves."""
    from .rollup import add_values, finished

    half = span // 2
    if half == 1:
        children = JobDay.objects.filter(
            connection_id=connection_id,
            pipeline_key__in=pipelines,
            branch=ALL_BRANCHES,
            day__in=[date.fromordinal(begin + i) for begin in starts for i in (0, 1)],
        ).values("pipeline_key", "project_key", "job_name", "day", *FIELDS)
        first_day = "day"
    else:
        children = JobSpan.objects.filter(
            connection_id=connection_id,
            pipeline_key__in=pipelines,
            span=half,
            start__in=[date.fromordinal(begin + i) for begin in starts for i in (0, half)],
        ).values("pipeline_key", "project_key", "job_name", "start", *FIELDS)
        first_day = "start"
    totals: dict[tuple, dict] = {}
    for row in children:
        n = row[first_day].toordinal()
        start = date.fromordinal(n - n % span)
        key = (connection_id, row["pipeline_key"], span, start, row["project_key"], row["job_name"])
        add_values(totals.setdefault(key, {}), {f: row[f] for f in FIELDS})
    replace_rows(
        JobSpan.objects.filter(
            connection_id=connection_id,
            pipeline_key__in=pipelines,
            span=span,
            start__in=[date.fromordinal(begin) for begin in starts],
        ),
        KEY,
        finished(totals),
    )


def rebuild(connection_id: int) -> None:
    """Every span of a connection, from its every-branch job rows (after a rebuild)."""
    from .rollup import add_values, finished

    JobSpan.objects.filter(connection_id=connection_id).delete()
    level: dict[tuple, dict] = {}
    for row in JobDay.objects.filter(connection_id=connection_id, branch=ALL_BRANCHES).values(
        "pipeline_key", "project_key", "job_name", "day", *FIELDS
    ):
        key = (row["pipeline_key"], row["project_key"], row["job_name"], row["day"].toordinal())
        level[key] = {f: row[f] for f in FIELDS}
    for span in LEVELS:
        upper: dict[tuple, dict] = {}
        for (pipeline_key, project_key, name, n), values in level.items():
            add_values(upper.setdefault((pipeline_key, project_key, name, n - n % span), {}), values)
        finished(upper)
        JobSpan.objects.bulk_create(
            [
                JobSpan(
                    connection_id=connection_id,
                    pipeline_key=pipeline_key,
                    project_key=project_key,
                    job_name=name,
                    span=span,
                    start=date.fromordinal(n),
                    **values,
                )
                for (pipeline_key, project_key, name, n), values in upper.items()
            ],
            batch_size=500,
        )
        level = upper
