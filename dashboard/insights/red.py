"""Time red on the default branch ("time to fix main"): from the first failed build to
the next passing one, builds taken in the order they finished.

The default branch is the admin's choice for the connection (``InsightsSettings``), else
the pipeline's own when the provider says it (Harmont), else ``main`` and ``master``.
Spells are recomputed from the earliest finish a change can move: the start of the
spell covering it, or the change itself when the branch was green then."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q

from dashboard.models import Build, InsightsSettings, Pipeline, RedDay, RedSpell
from dashboard.states import State

from . import buckets
from .days import day_bounds, day_of
from .store import replace_rows

FALLBACK_BRANCHES = ("main", "master")


def default_branches(connection_id: int, pipeline_keys: set[int]) -> dict[int, tuple[str, ...]]:
    chosen = (
        InsightsSettings.objects.filter(connection_id=connection_id).values_list("default_branch", flat=True).first()
    )
    if chosen:
        return {key: (chosen,) for key in pipeline_keys}
    own = {
        pk: raw.get("default_branch")
        for pk, raw in Pipeline.objects.filter(pk__in=[k for k in pipeline_keys if k]).values_list("id", "raw")
        if isinstance(raw, dict)
    }
    return {
        key: (own[key],) if isinstance(own.get(key), str) and own[key] else FALLBACK_BRANCHES for key in pipeline_keys
    }


def refresh(connection_id: int, builds: list[dict]) -> None:
    """Recompute the spells the given (changed) builds can move."""
    branches = default_branches(connection_id, {b["pipeline_id"] or 0 for b in builds})
    since: dict[tuple[int, str], datetime] = {}
    for b in builds:
        key = (b["pipeline_id"] or 0, b["branch"])
        if b["branch"] not in branches[key[0]] or b["state"] not in (State.PASSED, State.FAILED):
            continue
        if b["finished_at"] is None:
            continue
        since[key] = min(since.get(key, b["finished_at"]), b["finished_at"])
    for (pipeline_key, branch), moment in sorted(since.items()):
        recompute(connection_id, pipeline_key, branch, moment)


def rebuild(connection_id: int) -> None:
    # The default branch may have changed: nothing of the old one stays.
    RedSpell.objects.filter(connection_id=connection_id).delete()
    RedDay.objects.filter(connection_id=connection_id).delete()
    keys = set(Build.objects.filter(connection_id=connection_id).values_list("pipeline_id", flat=True).distinct())
    branches = default_branches(connection_id, {k or 0 for k in keys})
    for pipeline_key, names in sorted(branches.items()):
        for branch in names:
            recompute(connection_id, pipeline_key, branch, None)


def recompute(connection_id: int, pipeline_key: int, branch: str, since: datetime | None) -> None:
    spells = RedSpell.objects.filter(connection_id=connection_id, pipeline_key=pipeline_key, branch=branch)
    if since is not None:
        covering = (
            spells.filter(started_at__lte=since)
            .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=since))
            .order_by("started_at")
            .values_list("started_at", flat=True)
            .first()
        )
        since = covering or since
    builds = Build.objects.filter(
        Q(pipeline_id=pipeline_key) if pipeline_key else Q(pipeline__isnull=True),
        connection_id=connection_id,
        branch=branch,
        state__in=(State.PASSED, State.FAILED),
        finished_at__isnull=False,
    )
    if since is not None:
        builds = builds.filter(finished_at__gte=since)
        spells = spells.filter(started_at__gte=since)
    rows: dict[tuple, dict] = {}
    current: dict | None = None
    for b in builds.order_by("finished_at", "id").values("id", "project_id", "state", "finished_at"):
        if b["state"] == State.FAILED:
            if current is None:
                current = {
                    "connection_id": connection_id,
                    "project_key": b["project_id"] or 0,
                    "pipeline_key": pipeline_key,
                    "branch": branch,
                    "started_at": b["finished_at"],
                    "ended_at": None,
                    "fixed_by_id": None,
                    "failures": 0,
                }
                rows[(b["id"],)] = current
            current["failures"] += 1
        elif current is not None:
            current["ended_at"], current["fixed_by_id"] = b["finished_at"], b["id"]
            current = None
    replace_rows(spells, ("first_failure_id",), rows)
    recompute_days(connection_id, pipeline_key, branch, since)


DAY_KEY = ("connection_id", "pipeline_key", "branch", "day", "project_key")


def recompute_days(connection_id: int, pipeline_key: int, branch: str, since: datetime | None) -> None:
    """The RedDay rows of a pipeline's branch from the day of ``since`` on (all: None)."""
    first_day = day_of(since) if since is not None else None
    spells = RedSpell.objects.filter(
        connection_id=connection_id, pipeline_key=pipeline_key, branch=branch, ended_at__isnull=False
    )
    days = RedDay.objects.filter(connection_id=connection_id, pipeline_key=pipeline_key, branch=branch)
    if first_day is not None:
        spells = spells.filter(ended_at__gte=day_bounds(first_day)[0])
        days = days.filter(day__gte=first_day)
    rows: dict[tuple, dict] = {}
    fixes: dict[tuple, list[float]] = {}
    for project_key, started_at, ended_at, failures in spells.values_list(
        "project_key", "started_at", "ended_at", "failures"
    ):
        moment = started_at if first_day is None else max(started_at, day_bounds(first_day)[0])
        while moment < ended_at:
            day = day_of(moment)
            piece_end = min(day_bounds(day)[1], ended_at)
            row = rows.setdefault((connection_id, pipeline_key, branch, day, project_key), empty_day())
            row["red_ms"] += round((piece_end - moment).total_seconds() * 1000)
            moment = piece_end
        key = (connection_id, pipeline_key, branch, day_of(ended_at), project_key)
        row = rows.setdefault(key, empty_day())
        length = (ended_at - started_at).total_seconds()
        row["spells_ended"] += 1
        row["failures"] += failures
        row["longest_ms"] = max(row["longest_ms"], round(length * 1000))
        fixes.setdefault(key, []).append(length)
    for key, lengths in fixes.items():
        rows[key]["fix_hist"] = buckets.histogram(lengths)
    replace_rows(days, DAY_KEY, rows)


def empty_day() -> dict:
    return {"red_ms": 0, "spells_ended": 0, "failures": 0, "fix_hist": {}, "longest_ms": 0}
