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
    """``refresh`` for several days at once: level by level, each span that contains
    any of the days recomputed once (for the pipelines of all of them), after the spans
    below it, instead of once per day (the spans of a first sync's days mostly overlap)."""
    for span in LEVELS:
        starts: dict[int, set[int]] = {}
        for day, pipelines in days.items():
            n = day.toordinal()
            starts.setdefault(n - n % span, set()).update(pipelines)
        for begin, pipelines in sorted(starts.items()):
            recompute(connection_id, span, begin, pipelines)


def recompute(connection_id: int, span: int, begin: int, pipelines: set[int]) -> None:
    """One span of these pipelines, starting on day ordinal ``begin``, from its halves."""
    from .rollup import add_values, finished

    half = span // 2
    if half == 1:
        children = JobDay.objects.filter(
            connection_id=connection_id,
            pipeline_key__in=pipelines,
            branch=ALL_BRANCHES,
            day__gte=date.fromordinal(begin),
            day__lte=date.fromordinal(begin + 1),
        )
    else:
        children = JobSpan.objects.filter(
            connection_id=connection_id,
            pipeline_key__in=pipelines,
            span=half,
            start__in=[date.fromordinal(begin), date.fromordinal(begin + half)],
        )
    start = date.fromordinal(begin)
    totals: dict[tuple, dict] = {}
    for row in children.values("pipeline_key", "project_key", "job_name", *FIELDS):
        key = (connection_id, row["pipeline_key"], span, start, row["project_key"], row["job_name"])
        add_values(totals.setdefault(key, {}), {f: row[f] for f in FIELDS})
    replace_rows(
        JobSpan.objects.filter(connection_id=connection_id, pipeline_key__in=pipelines, span=span, start=start),
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
