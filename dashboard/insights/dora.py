"""DORA's four keys from deployments: one ``DeployEvent`` per finished deployment.

Where deployments come from:
- a provider's deployment history (Semaphore's deployment targets). A deployment that
  Semaphore reports ``FAILED`` failed; one that started a pipeline we hold succeeded or
  failed with that pipeline (still running or canceled: not counted yet); one whose
  pipeline we do not hold counts as succeeded when ``STARTED``;
- for providers without one, the builds of pipelines, or the jobs, whose names match
  the connection's patterns (``InsightsSettings``): passed is a success, failed a failure.

Lead time for changes runs from the first pipeline created for the deployed commit (we
know no commit times) to the deployment; a deployment without a commit uses its own
pipeline's creation. Change failure rate counts failed deployments. Time to restore runs
from the first failure of a streak to the next success on the same target."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from fnmatch import fnmatchcase

from django.db.models import F, Min

from dashboard.lookups import AnyOf
from dashboard.models import (
    ALL_BRANCHES,
    Build,
    DeployDay,
    DeployEvent,
    Deployment,
    InsightsSettings,
    Job,
    JobDay,
    Pipeline,
)
from dashboard.states import State

from . import buckets
from .days import day_bounds, day_of
from .store import chunked, replace_rows

KEY = ("source", "deployment_id", "build_id", "job_id")


def patterns(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def matches(name: str, pats: list[str]) -> bool:
    return any(fnmatchcase(name, p) for p in pats)


def settings_of(connection_id: int) -> tuple[list[str], list[str]]:
    found = (
        InsightsSettings.objects.filter(connection_id=connection_id).values("deploy_pipelines", "deploy_jobs").first()
    )
    if not found:
        return [], []
    return patterns(found["deploy_pipelines"]), patterns(found["deploy_jobs"])


def first_seen(connection_id: int, commits: Iterable[str]) -> dict[str, datetime]:
    found: dict[str, datetime] = {}
    for part in chunked(sorted({c for c in commits if c})):
        found.update(
            Build.objects.filter(connection_id=connection_id, commit_sha__in=part)
            .values("commit_sha")
            .annotate(first=Min("created_at"))
            .values_list("commit_sha", "first")
        )
    return found


def lead(at: datetime, build: dict | None, seen: dict[str, datetime]) -> float | None:
    if build is None:
        return None
    start = seen.get(build["commit_sha"]) or build["created_at"]
    return max((at - start).total_seconds(), 0.0)


def event(connection_id: int, project_key: int, target: str, target_key: str, at, ok: bool, build, seen) -> dict:
    return {
        "connection_id": connection_id,
        "project_key": project_key or 0,
        "target": target[:255],
        "target_key": target_key[:300],
        "at": at,
        "day": day_of(at),
        "succeeded": ok,
        "commit_sha": build["commit_sha"] if build else "",
        "lead_seconds": lead(at, build, seen) if ok else None,
    }


BUILD_VALUES = ("id", "project_id", "pipeline_id", "state", "commit_sha", "created_at", "finished_at")


# Events of each source ------------------------------------------------------------------------
def deployment_events(connection_id: int, deployment_ids: list[int]) -> dict[tuple, dict]:
    deployments = list(
        Deployment.objects.filter(pk__in=deployment_ids).values(
            "id", "state", "triggered_at", "build_id", "target_id", "target__name", "target__project_id"
        )
    )
    builds = {
        b["id"]: b
        for b in Build.objects.filter(pk__in=[d["build_id"] for d in deployments if d["build_id"]]).values(
            *BUILD_VALUES
        )
    }
    seen = first_seen(connection_id, (b["commit_sha"] for b in builds.values()))
    rows = {}
    for d in deployments:
        build = builds.get(d["build_id"])
        state = (d["state"] or "").upper()
        at, ok = d["triggered_at"], None
        if state == "FAILED":
            ok = False
        elif build is not None:
            if build["state"] in (State.PASSED, State.FAILED):
                ok, at = build["state"] == State.PASSED, build["finished_at"] or at
        elif state == "STARTED":
            ok = True
        if ok is None or at is None:
            continue
        rows[(DeployEvent.Source.DEPLOYMENT, d["id"], d["build_id"] if build else None, None)] = event(
            connection_id,
            d["target__project_id"],
            d["target__name"],
            f"target:{d['target_id']}",
            at,
            ok,
            build,
            seen,
        )
    return rows


def pipeline_events(connection_id: int, builds: list[dict], names: dict[int, str]) -> dict[tuple, dict]:
    seen = first_seen(connection_id, (b["commit_sha"] for b in builds))
    rows = {}
    for b in builds:
        if b["state"] not in (State.PASSED, State.FAILED) or b["finished_at"] is None:
            continue
        rows[(DeployEvent.Source.PIPELINE, None, b["id"], None)] = event(
            connection_id,
            b["project_id"],
            names[b["pipeline_id"]],
            f"pipeline:{b['pipeline_id']}",
            b["finished_at"],
            b["state"] == State.PASSED,
            b,
            seen,
        )
    return rows


def job_events(connection_id: int, jobs: list[dict], builds: dict[int, dict]) -> dict[tuple, dict]:
    seen = first_seen(connection_id, (b["commit_sha"] for b in builds.values()))
    rows = {}
    for j in jobs:
        build = builds[j["build_id"]]
        at = j["finished_at"] or build["finished_at"]
        if j["state"] not in (State.PASSED, State.FAILED) or at is None:
            continue
        rows[(DeployEvent.Source.JOB, None, build["id"], j["id"])] = event(
            connection_id,
            build["project_id"],
            j["name"],
            f"job:{j['name']}",
            at,
            j["state"] == State.PASSED,
            build,
            seen,
        )
    return rows


# Refreshing -------------------------------------------------------------------------------------
class Touched:
    """Targets whose events changed: from when (restore times are redone from there) and
    on which days (their DeployDay rows are redone)."""

    def __init__(self) -> None:
        self.since: dict[str, datetime] = {}
        self.days: dict[str, set[date]] = {}

    def add(self, target_key: str, at: datetime) -> None:
        self.since[target_key] = min(self.since.get(target_key, at), at)
        self.days.setdefault(target_key, set()).add(day_of(at))


def write(queryset, rows: dict[tuple, dict], touched: Touched) -> None:
    for event in replace_rows(queryset, KEY, rows):
        touched.add(event.target_key, event.at)


def finish(connection_id: int, touched: Touched) -> None:
    refresh_restore(connection_id, touched)
    refresh_days(connection_id, touched)


def refresh_for_builds(connection_id: int, builds: list[dict]) -> None:
    """After builds changed: their deployments, the deploying pipelines and jobs among
    them, and the lead times of deployments of their commits."""
    build_ids = [b["id"] for b in builds]
    touched = Touched()
    deployment_ids = list(
        Deployment.objects.filter(AnyOf(F("build_id"), build_ids), connection_id=connection_id).values_list(
            "id", flat=True
        )
    )
    if deployment_ids:
        write(
            DeployEvent.objects.filter(deployment_id__in=deployment_ids),
            deployment_events(connection_id, deployment_ids),
            touched,
        )
    pipeline_pats, job_pats = settings_of(connection_id)
    if pipeline_pats:
        refresh_pipeline_builds(connection_id, build_ids, pipeline_pats, touched)
    if job_pats:
        refresh_jobs(connection_id, build_ids, job_pats, touched)
    commits = {b["commit_sha"] for b in builds if b["commit_sha"]}
    if commits:
        refresh_leads(connection_id, commits, touched)
    finish(connection_id, touched)


def refresh_pipeline_builds(connection_id: int, build_ids: list[int], pats: list[str], touched: Touched) -> None:
    builds = [
        b
        for part in chunked(build_ids)
        for b in Build.objects.filter(pk__in=part, pipeline__isnull=False).values(*BUILD_VALUES)
    ]
    names = dict(Pipeline.objects.filter(pk__in={b["pipeline_id"] for b in builds}).values_list("id", "name"))
    deploying = [b for b in builds if matches(names.get(b["pipeline_id"], ""), pats)]
    for part in chunked(build_ids):
        mine = set(part)
        write(
            DeployEvent.objects.filter(source=DeployEvent.Source.PIPELINE, build_id__in=part),
            pipeline_events(connection_id, [b for b in deploying if b["id"] in mine], names),
            touched,
        )


def refresh_jobs(connection_id: int, build_ids: list[int], pats: list[str], touched: Touched) -> None:
    for part in chunked(build_ids):
        jobs = [
            j
            for j in Job.objects.filter(build_id__in=part).values("id", "build_id", "name", "state", "finished_at")
            if matches(j["name"], pats)
        ]
        builds = {b["id"]: b for b in Build.objects.filter(pk__in={j["build_id"] for j in jobs}).values(*BUILD_VALUES)}
        write(
            DeployEvent.objects.filter(source=DeployEvent.Source.JOB, build_id__in=part),
            job_events(connection_id, jobs, builds),
            touched,
        )


def refresh_deployments(connection_id: int, since: datetime) -> None:
    """After a sync: deployments written since ``since`` (their rows' ``synced_at``)."""
    ids = list(
        Deployment.objects.filter(connection_id=connection_id, synced_at__gte=since).values_list("id", flat=True)
    )
    touched = Touched()
    for part in chunked(ids):
        write(DeployEvent.objects.filter(deployment_id__in=part), deployment_events(connection_id, part), touched)
    finish(connection_id, touched)


def refresh_leads(connection_id: int, commits: set[str], touched: Touched) -> None:
    """A newly seen (older) pipeline of a commit moves its deployments' lead times."""
    # ANY(array) rather than IN: a first sync brings thousands of commits, and IN prepares
    # each value in Python.
    events = list(
        DeployEvent.objects.filter(
            AnyOf(F("commit_sha"), sorted(commits)), connection_id=connection_id, succeeded=True
        ).select_related("build")
    )
    if not events:
        return
    seen = first_seen(connection_id, commits)
    changed = []
    for e in events:
        start = seen.get(e.commit_sha) or (e.build.created_at if e.build else None)
        value = max((e.at - start).total_seconds(), 0.0) if start else None
        if value != e.lead_seconds:
            e.lead_seconds = value
            changed.append(e)
            touched.add(e.target_key, e.at)
    if changed:
        DeployEvent.objects.bulk_update(changed, ["lead_seconds"])


def refresh_restore(connection_id: int, touched: Touched) -> None:
    """Restore times of the touched targets, redone from the last success before the
    earliest change (what came before it cannot move)."""
    for target_key, since in sorted(touched.since.items()):
        events = DeployEvent.objects.filter(connection_id=connection_id, target_key=target_key)
        anchor = events.filter(succeeded=True, at__lt=since).order_by("-at", "-id").values_list("at", flat=True).first()
        if anchor is not None:
            events = events.filter(at__gte=anchor)
        events = list(events.order_by("at", "id").only("id", "at", "target_key", "succeeded", "restore_seconds"))
        streak_start = None
        wanted: dict[int, float | None] = {}
        for e in events:
            wanted[e.pk] = None
            if not e.succeeded and streak_start is None:
                streak_start = e
            elif e.succeeded and streak_start is not None:
                wanted[streak_start.pk] = (e.at - streak_start.at).total_seconds()
                streak_start = None
        changed = [e for e in events if e.restore_seconds != wanted[e.pk]]
        for e in changed:
            e.restore_seconds = wanted[e.pk]
            touched.add(e.target_key, e.at)
        if changed:
            DeployEvent.objects.bulk_update(changed, ["restore_seconds"])


DAY_KEY = ("connection_id", "target_key", "day", "project_key")
EVENT_VALUES = (
    "connection_id",
    "target_key",
    "target",
    "day",
    "project_key",
    "succeeded",
    "lead_seconds",
    "restore_seconds",
)


def day_rows(events: Iterable[dict]) -> dict[tuple, dict]:
    rows: dict[tuple, dict] = {}
    leads: dict[tuple, list[float]] = {}
    restores: dict[tuple, list[float]] = {}
    for e in events:
        key = tuple(e[k] for k in DAY_KEY)
        row = rows.setdefault(key, {"target": e["target"], "deployments": 0, "succeeded": 0})
        row["deployments"] += 1
        row["succeeded"] += e["succeeded"]
        if e["lead_seconds"] is not None:
            leads.setdefault(key, []).append(e["lead_seconds"])
        if e["restore_seconds"] is not None:
            restores.setdefault(key, []).append(e["restore_seconds"])
    for key, row in rows.items():
        row["lead_hist"] = buckets.histogram(leads.get(key, []))
        row["restore_hist"] = buckets.histogram(restores.get(key, []))
    return rows


def refresh_days(connection_id: int, touched: Touched) -> None:
    for target_key, days in sorted(touched.days.items()):
        for day in sorted(days):
            start, end = day_bounds(day)
            events = DeployEvent.objects.filter(
                connection_id=connection_id, target_key=target_key, at__gte=start, at__lt=end
            ).values(*EVENT_VALUES)
            replace_rows(
                DeployDay.objects.filter(connection_id=connection_id, target_key=target_key, day=day),
                DAY_KEY,
                day_rows(events),
            )


def rebuild(connection_id: int) -> None:
    """Every deployment of a connection, from scratch (also after its patterns change)."""
    DeployEvent.objects.filter(connection_id=connection_id).delete()
    DeployDay.objects.filter(connection_id=connection_id).delete()
    touched = Touched()
    ids = list(Deployment.objects.filter(connection_id=connection_id).values_list("id", flat=True))
    for part in chunked(ids):
        write(DeployEvent.objects.filter(deployment_id__in=part), deployment_events(connection_id, part), touched)
    pipeline_pats, job_pats = settings_of(connection_id)
    if pipeline_pats:
        pipelines = [
            pk
            for pk, name in Pipeline.objects.filter(connection_id=connection_id).values_list("id", "name")
            if matches(name, pipeline_pats)
        ]
        build_ids = list(Build.objects.filter(pipeline_id__in=pipelines).values_list("id", flat=True))
        refresh_pipeline_builds(connection_id, build_ids, pipeline_pats, touched)
    if job_pats:
        # The job names come from the rollup, so only the matching jobs are read.
        names = [
            n
            for n in JobDay.objects.filter(connection_id=connection_id, branch=ALL_BRANCHES)
            .values_list("job_name", flat=True)
            .distinct()
            if matches(n, job_pats)
        ]
        build_ids = list(
            Job.objects.filter(connection_id=connection_id, name__in=names)
            .values_list("build_id", flat=True)
            .distinct()
        )
        refresh_jobs(connection_id, build_ids, job_pats, touched)
    refresh_restore(connection_id, touched)
    DeployDay.objects.bulk_create(
        [
            DeployDay(**dict(zip(DAY_KEY, key, strict=True)), **values)
            for key, values in day_rows(
                DeployEvent.objects.filter(connection_id=connection_id).values(*EVENT_VALUES)
            ).items()
        ],
        batch_size=500,
    )
