"""Keep the per-day rollups current: every change the sync reports is turned into the
set of (pipeline, branch, day) groups it feeds, and each group is recomputed whole from
its builds and jobs, then written over what is stored, only where it differs. A batch
applied twice, or a re-sync that changes nothing, therefore writes nothing; and
``rebuild`` (the ``rebuild_insights`` command) recomputes the same rows from scratch,
a day at a time, with the same code.

A build belongs to the day (UTC) it was created, and its jobs with it, so a group's rows
only ever depend on that group's builds (and on which of its failed jobs are known
flakes, see ``flaky``). The every-branch rows of a pipeline and day are the sums of its
branch rows."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, date

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import TruncDate

from dashboard.lookups import AnyOf
from dashboard.models import (
    ALL_BRANCHES,
    ALL_PIPELINES,
    Build,
    BuildDay,
    Connection,
    DeployDay,
    DeployEvent,
    FlakeEvent,
    Job,
    JobDay,
    JobSpan,
    QueueDay,
    RedDay,
    RedSpell,
)
from dashboard.states import State

from . import buckets, dora, flaky, red, spans
from .days import day_bounds, day_of, seconds_between
from .jobs import JobsOf, JobsReader, read_jobs
from .store import chunked, replace_rows

log = logging.getLogger(__name__)

Group = tuple[int, str, date]  # pipeline key, branch, day
OUTCOMES = (State.PASSED, State.FAILED)
KEYS = {
    BuildDay: ("connection_id", "pipeline_key", "branch", "day", "project_key"),
    JobDay: ("connection_id", "pipeline_key", "branch", "day", "project_key", "job_name"),
    QueueDay: ("connection_id", "pipeline_key", "branch", "day", "project_key", "machine_type"),
}
BUILD_FIELDS = (
    "id",
    "connection_id",
    "project_id",
    "pipeline_id",
    "branch",
    "commit_sha",
    "group_id",
    "state",
    "created_at",
    "started_at",
    "finished_at",
)
Rows = dict[type, dict[tuple, dict]]  # model -> key tuple (as KEYS) -> values


# Entry points ---------------------------------------------------------------------------------
def refresh(connection_id: int, build_ids: Iterable[int]) -> None:
    """Bring every rollup that these builds feed up to date (called after each batch)."""
    builds = [
        b
        for part in chunked(sorted(set(build_ids)))
        for b in Build.objects.filter(AnyOf(F("pk"), part), connection_id=connection_id).values(*BUILD_FIELDS)
    ]
    if not builds:
        return
    for attempt in range(2):
        try:
            with transaction.atomic():
                _refresh(connection_id, builds)
            return
        except IntegrityError:
            # Another writer (an action's answer beside a sync) created the same row first.
            if attempt:
                raise
            log.info("insights rollup of connection %s raced another writer; recomputing", connection_id)


def _refresh(connection_id: int, builds: list[dict]) -> None:
    commits = {b["commit_sha"] for b in builds if b["commit_sha"]}
    solo = {b["id"] for b in builds if not b["commit_sha"]}
    groups = {(b["pipeline_id"] or 0, b["branch"], day_of(b["created_at"])) for b in builds}
    jobs = JobsOf()  # the jobs the flakes read are those the groups read next
    groups |= flaky.refresh(connection_id, commits, solo, jobs.keep)
    refresh_groups(connection_id, groups, jobs.take)
    red.refresh(connection_id, builds)
    dora.refresh_for_builds(connection_id, builds)


def refresh_groups(connection_id: int, groups: Iterable[Group], jobs_of: JobsReader = read_jobs) -> None:
    by_day: dict[date, tuple[set[int], set[str]]] = {}
    for pipeline_key, branch, day in groups:
        pipelines, branches = by_day.setdefault(day, (set(), set()))
        pipelines.add(pipeline_key)
        branches.add(branch)
    for day, (pipelines, branches) in sorted(by_day.items()):
        recompute_groups(connection_id, day, pipelines, branches, jobs_of)
        recompute_all_branches(connection_id, day, pipelines)
    # Spans cover many days: each is recomputed once, after every day's rows below it.
    spans.refresh_days(connection_id, {day: pipelines for day, (pipelines, _) in by_day.items()})
    for day in sorted(by_day):
        recompute_overall(connection_id, day)


def rebuild(connection: Connection) -> None:
    """Recompute every rollup of a connection from its builds and jobs."""
    cid = connection.pk
    with transaction.atomic():
        for model in (BuildDay, JobDay, JobSpan, QueueDay, FlakeEvent, RedSpell, RedDay, DeployEvent, DeployDay):
            model.objects.filter(connection_id=cid).delete()
        builds = Build.objects.filter(connection_id=cid)
        # Only a failed job can be a flake: the commits of builds with one are enough.
        failing = builds.filter(pk__in=Job.objects.filter(connection_id=cid, state=State.FAILED).values("build_id"))
        commits = set(failing.exclude(commit_sha="").values_list("commit_sha", flat=True).distinct())
        solo = set(failing.filter(commit_sha="").values_list("id", flat=True))
        flaky.refresh(cid, commits, solo)
        days = builds.annotate(day=TruncDate("created_at", tzinfo=UTC)).values_list("day", flat=True).distinct()
        for day in sorted(set(days)):
            rebuild_day(cid, day)
        spans.rebuild(cid)
        red.rebuild(cid)
        dora.rebuild(cid)


# Computing ------------------------------------------------------------------------------------
def figures_of(builds: dict[int, dict], jobs: list[dict], flakes: set[int]) -> Rows:
    """The branch rows of these builds and their jobs (``flakes``: failed job ids that
    are known flakes)."""
    build_rows: dict[tuple, dict] = {}
    job_rows: dict[tuple, dict] = {}
    queue_rows: dict[tuple, dict] = {}
    durations: dict[tuple, list[float]] = {}
    waits: dict[tuple, list[float]] = {}
    for b in builds.values():
        key = group_key(b)
        f = build_rows.setdefault(key, {"builds": 0, "passed": 0, "failed": 0, "canceled": 0})
        f["builds"] += 1
        if b["state"] in (State.PASSED, State.FAILED, State.CANCELED):
            f[str(b["state"])] += 1
        if b["state"] in OUTCOMES and (took := seconds_between(b["started_at"], b["finished_at"])) is not None:
            durations.setdefault(key, []).append(took)
        if (waited := seconds_between(b["created_at"], b["started_at"])) is not None:
            waits.setdefault(key, []).append(waited)
    for key, f in build_rows.items():
        f["duration_hist"] = buckets.histogram(durations.get(key, []))
        f["wait_hist"] = buckets.histogram(waits.get(key, []))
    job_durations: dict[tuple, list[float]] = {}
    job_waits: dict[tuple, list[float]] = {}
    for j in jobs:
        b = builds[j["build_id"]]
        if (waited := seconds_between(j["created_at"], j["started_at"])) is not None:
            job_waits.setdefault((*group_key(b), (j["machine"] or "")[:255]), []).append(waited)
        if j["state"] not in OUTCOMES:
            continue
        key = (*group_key(b), j["name"])
        f = job_rows.setdefault(
            key, {"runs": 0, "failures": 0, "flaky": 0, "last_failure_job": 0, "last_failure_at": None}
        )
        f["runs"] += 1
        if (took := seconds_between(j["started_at"], j["finished_at"])) is not None:
            job_durations.setdefault(key, []).append(took)
        if j["state"] == State.FAILED:
            f["failures"] += 1
            f["flaky"] += j["id"] in flakes
            moment = j["finished_at"] or j["started_at"] or b["created_at"]
            if f["last_failure_at"] is None or (moment, j["id"]) > (f["last_failure_at"], f["last_failure_job"]):
                f["last_failure_at"], f["last_failure_job"] = moment, j["id"]
    for key, f in job_rows.items():
        f["duration_hist"] = buckets.histogram(job_durations.get(key, []))
        f["p95_bucket"] = buckets.percentile_bucket(f["duration_hist"], 0.95)
    for key, w in job_waits.items():
        queue_rows[key] = {"jobs": len(w), "wait_hist": buckets.histogram(w)}
    return {BuildDay: build_rows, JobDay: job_rows, QueueDay: queue_rows}


def group_key(b: dict) -> tuple:
    """The leading key fields of a build's rows (as KEYS, without a job or machine)."""
    return (b["connection_id"], b["pipeline_id"] or 0, b["branch"], day_of(b["created_at"]), b["project_id"] or 0)


def add_values(total: dict, values: dict) -> dict:
    """Add one row's figures into ``total`` in place: counts and histograms add up, the
    last failure is the later one. Histograms are summed as they come (bucket numbers as
    integers) and the p95 bucket is left to ``finished``: a row of a span or of every
    branch sums many, and ordering and reading the sum again after each part cost most
    of a refresh."""
    for name, value in values.items():
        if name.startswith("last_failure") or name == "p95_bucket":
            continue
        if name.endswith("_hist"):
            buckets.add(total.setdefault(name, {}), value)
        else:
            total[name] = total.get(name, 0) + value
    if "p95_bucket" in values:
        total["p95_bucket"] = None
    if "last_failure_at" in values:
        total.setdefault("last_failure_at", None)
        total.setdefault("last_failure_job", 0)
        mine = (values["last_failure_at"], values["last_failure_job"])
        if mine[0] and (
            total["last_failure_at"] is None or mine > (total["last_failure_at"], total["last_failure_job"])
        ):
            total["last_failure_at"], total["last_failure_job"] = mine
    return total


def finished(totals: dict[tuple, dict]) -> dict[tuple, dict]:
    """Rows summed by ``add_values``, as they are stored: each histogram's buckets in
    order under string keys, and the p95 bucket of the summed durations."""
    for total in totals.values():
        for name, value in total.items():
            if name.endswith("_hist"):
                total[name] = {str(b): cell for b, cell in sorted(value.items())}
        if "p95_bucket" in total:
            total["p95_bucket"] = buckets.percentile_bucket(total["duration_hist"], 0.95)
    return totals


def summed(rows: Rows) -> Rows:
    """The every-branch rows: each branch row added into the row of its pipeline and day."""
    found: Rows = {model: {} for model in KEYS}
    for model, by_key in rows.items():
        for key, values in by_key.items():
            if key[2] != ALL_BRANCHES:
                add_values(found[model].setdefault((key[0], key[1], ALL_BRANCHES, *key[3:]), {}), values)
    return {model: finished(totals) for model, totals in found.items()}


def overall(pipeline_rows: Rows) -> Rows:
    """Build and queue rows of every pipeline of a project, and of the whole connection,
    per branch (and for every branch) and day: each pipeline row added into its
    project's and its connection's."""
    found: Rows = {BuildDay: {}, QueueDay: {}}
    for model in found:
        for key, values in pipeline_rows.get(model, {}).items():
            connection_id, _, branch, day, project_key, *rest = key
            for project in (project_key, ALL_PIPELINES):
                add_values(
                    found[model].setdefault((connection_id, ALL_PIPELINES, branch, day, project, *rest), {}), values
                )
    return {model: finished(totals) for model, totals in found.items()}


def stored_rows(queryset, model) -> dict[tuple, dict]:
    names = [f.attname for f in model._meta.concrete_fields if f.attname not in ("id", *KEYS[model])]
    return {
        tuple(row[k] for k in KEYS[model]): {n: row[n] for n in names} for row in queryset.values(*KEYS[model], *names)
    }


# Writing --------------------------------------------------------------------------------------
def recompute_groups(
    connection_id: int, day: date, pipelines: set[int], branches: set[str], jobs_of: JobsReader = read_jobs
) -> None:
    """Every group of one day whose pipeline and branch are among those given: read,
    computed and written together (a superset of the changed groups, recomputed whole,
    so the rows read and the rows written cover the same groups)."""
    start, end = day_bounds(day)
    in_pipelines = Q(pipeline_id__in=[p for p in pipelines if p])
    if 0 in pipelines:
        in_pipelines |= Q(pipeline__isnull=True)
    builds = {
        b["id"]: b
        for b in Build.objects.filter(
            in_pipelines,
            connection_id=connection_id,
            branch__in=branches,
            created_at__gte=start,
            created_at__lt=end,
        ).values(*BUILD_FIELDS)
    }
    scope = {"connection_id": connection_id, "day": day, "pipeline_key__in": pipelines, "branch__in": branches}
    flakes = set(FlakeEvent.objects.filter(**scope).values_list("failed_job_id", flat=True))
    rows = figures_of(builds, jobs_of(list(builds)), flakes)
    for model, values in rows.items():
        replace_rows(model.objects.filter(**scope), KEYS[model], values)


def recompute_all_branches(connection_id: int, day: date, pipelines: set[int]) -> None:
    """The every-branch rows of these pipelines on a day, from their stored branch rows."""
    scope = {"connection_id": connection_id, "pipeline_key__in": pipelines, "day": day}
    branch_rows = {
        model: stored_rows(model.objects.filter(**scope).exclude(branch=ALL_BRANCHES), model) for model in KEYS
    }
    for model, values in summed(branch_rows).items():
        replace_rows(model.objects.filter(**scope, branch=ALL_BRANCHES), KEYS[model], values)


def recompute_overall(connection_id: int, day: date) -> None:
    """A day's every-pipeline build and queue rows, from its pipeline rows."""
    pipeline_rows = {
        model: stored_rows(model.objects.filter(connection_id=connection_id, day=day, pipeline_key__gte=0), model)
        for model in (BuildDay, QueueDay)
    }
    for model, values in overall(pipeline_rows).items():
        replace_rows(
            model.objects.filter(connection_id=connection_id, day=day, pipeline_key=ALL_PIPELINES), KEYS[model], values
        )


def rebuild_day(connection_id: int, day: date) -> None:
    """Every row of one day of a connection, in a handful of queries (for rebuilds)."""
    start, end = day_bounds(day)
    builds = {
        b["id"]: b
        for b in Build.objects.filter(connection_id=connection_id, created_at__gte=start, created_at__lt=end).values(
            *BUILD_FIELDS
        )
    }
    flakes = set(
        FlakeEvent.objects.filter(connection_id=connection_id, day=day).values_list("failed_job_id", flat=True)
    )
    rows = figures_of(builds, read_jobs(list(builds)), flakes)
    everywhere = summed(rows)
    pipelines = overall({model: rows[model] | everywhere[model] for model in (BuildDay, QueueDay)})
    for model in KEYS:
        replace_rows(
            model.objects.filter(connection_id=connection_id, day=day),
            KEYS[model],
            rows[model] | everywhere[model] | pipelines.get(model, {}),
        )
