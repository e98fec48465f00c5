"""The state of each pipeline x branch: its newest build (is it building?) and its newest
build with a verdict (did it pass?). One query whatever the number of builds or pairs,
backed by the ``build_pipeline_branch_recent`` index; the CCTray feed, the badges and
the notification rules all read it.

Canceled and skipped builds have no verdict: stopping a build says nothing about the
code, so a pair keeps the verdict of its newest passed or failed build."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from dashboard.models import Build, Pipeline
from dashboard.states import State

VERDICTS = (State.PASSED, State.FAILED)


@dataclass
class PairStatus:
    pipeline: Pipeline
    branch: str
    newest: Build
    verdict: Build | None  # the newest passed or failed build, if any

    @property
    def passing(self) -> bool | None:
        """True, False, or None when no build has a verdict yet."""
        return None if self.verdict is None else self.verdict.state == State.PASSED


def pair_statuses(builds: QuerySet[Build]) -> list[PairStatus]:
    """One PairStatus per pipeline x branch among ``builds`` (already filtered by scope),
    ordered by connection, project, pipeline and branch. One query, however long the
    history."""
    heads_sql, params = _heads_sql(builds)
    chosen = RawSQL(
        f"WITH heads AS ({heads_sql}) SELECT newest_id FROM heads"
        " UNION ALL SELECT verdict_id FROM heads WHERE verdict_id IS NOT NULL",
        params,
    )
    rows = (
        Build.objects.filter(pk__in=chosen)
        .select_related("connection", "project", "pipeline", "pipeline__project")
        .only(*FIELDS)
    )
    pairs: dict[tuple[int, str], PairStatus] = {}
    for build in rows:
        pair = pairs.get((build.pipeline_id, build.branch))
        if pair is None:
            pair = pairs[(build.pipeline_id, build.branch)] = PairStatus(build.pipeline, build.branch, build, None)
        elif (build.created_at, build.pk) > (pair.newest.created_at, pair.newest.pk):
            pair.newest = build
        if build.state in VERDICTS and (
            pair.verdict is None or (build.created_at, build.pk) > (pair.verdict.created_at, pair.verdict.pk)
        ):
            pair.verdict = build
    return sorted(pairs.values(), key=_order)


# What the feed, the badges and the rules read of a build and what it hangs from.
FIELDS = (
    *("external_id", "number", "title", "branch", "commit_sha", "triggered_by", "state", "gone"),
    *("created_at", "started_at", "finished_at", "web_url", "pipeline_id", "project_id", "connection_id"),
    *("connection__kind", "connection__name", "connection__slug"),
    *("project__external_id", "project__name", "project__connection_id"),
    *("pipeline__external_id", "pipeline__name", "pipeline__connection_id", "pipeline__project_id"),
    *("pipeline__project__external_id", "pipeline__project__name", "pipeline__project__connection_id"),
)


def _heads_sql(builds: QuerySet[Build]) -> tuple[str, tuple]:
    """SQL naming, per pair, its newest build and its newest verdict build.

    The distinct pairs are found first, in a derived table; only then is each pair's
    newest build looked up (an index probe on build_pipeline_branch_recent per pair).
    Written in SQL because the ORM would place these lookups before the DISTINCT and
    probe once per build instead of once per pair."""
    pairs_sql, params = (
        builds.filter(pipeline__isnull=False)
        .order_by()
        .values("pipeline_id", "branch")
        .distinct()
        .query.sql_with_params()
    )
    table = connection.ops.quote_name(Build._meta.db_table)
    lookup = (
        f"SELECT b.id FROM {table} b WHERE b.pipeline_id = pairs.pipeline_id AND b.branch = pairs.branch"
        " AND NOT b.gone{extra} ORDER BY b.created_at DESC, b.id DESC LIMIT 1"
    )
    verdict = " AND b.state IN ({})".format(", ".join(["%s"] * len(VERDICTS)))
    sql = (
        f"SELECT ({lookup.format(extra='')}) AS newest_id, ({lookup.format(extra=verdict)}) AS verdict_id"
        f" FROM ({pairs_sql}) pairs"
    )
    return sql, (*[str(v) for v in VERDICTS], *params)


def _order(pair: PairStatus) -> tuple:
    project = pair.pipeline.project or pair.newest.project
    return (
        pair.newest.connection.name.lower(),
        (project.name.lower() if project else ""),
        pair.pipeline.name.lower(),
        pair.branch,
    )
