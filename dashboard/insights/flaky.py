"""Flaky jobs: a job that failed and then passed for the same commit is a flake.

The tries of one job are its runs with the same name in the same pipeline, for the same
commit; builds without a commit only count tries inside themselves. That covers each
provider's own way of trying again: Semaphore's rerun of a workflow and its partial
rebuild (new pipelines for the commit), Harmont's rebuild (a new build for the commit)
and a retried job shown twice in one build (a retry policy). Every failed try followed
by a later passing one is a flake event, dated by the failed try's build."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F

from dashboard.lookups import AnyOf
from dashboard.models import Build, FlakeEvent
from dashboard.states import State

from .days import day_of
from .jobs import JobsReader, read_jobs
from .store import chunked, replace_rows

COMMITS_AT_ONCE = 200
FIELDS = ("id", "project_id", "pipeline_id", "branch", "commit_sha", "group_id", "created_at")


def refresh(
    connection_id: int, commits: Iterable[str], solo_build_ids: Iterable[int], jobs_of: JobsReader = read_jobs
) -> set[tuple]:
    """Recompute the flake events of every build of ``commits`` and of the commit-less
    builds given (their jobs read by ``jobs_of``). Returns the (pipeline key, branch,
    day) groups whose events changed."""
    changed: set[tuple] = set()
    parts = [
        Build.objects.filter(AnyOf(F("commit_sha"), part), connection_id=connection_id)
        for part in chunked(sorted(set(commits)), COMMITS_AT_ONCE)
    ]
    parts += [
        Build.objects.filter(AnyOf(F("pk"), part), connection_id=connection_id, commit_sha="")
        for part in chunked(sorted(set(solo_build_ids)))
    ]
    for queryset in parts:
        builds = {b["id"]: b for b in queryset.values(*FIELDS)}
        if not builds:
            continue
        rows = events_of(connection_id, builds, jobs_of)
        for event in replace_rows(
            FlakeEvent.objects.filter(AnyOf(F("failed_build_id"), list(builds))), ("failed_job_id",), rows
        ):
            changed.add((event.pipeline_key, event.branch, event.day))
    return changed


def tries_of(builds: dict[int, dict], jobs_of: JobsReader = read_jobs) -> dict[tuple, list]:
    tries: dict[tuple, list] = {}
    for job in jobs_of(list(builds)):
        if job["state"] not in (State.PASSED, State.FAILED):
            continue
        build = builds[job["build_id"]]
        commit = build["commit_sha"] or f"build {build['id']}"
        moment = job["started_at"] or job["created_at"] or build["created_at"]
        tries.setdefault((commit, build["pipeline_id"] or 0, job["name"]), []).append((moment, job["id"], job))
    return tries


def kind_of(failed: dict, passed: dict) -> str:
    if failed["id"] == passed["id"]:
        return FlakeEvent.Kind.RETRY
    if failed["group_id"] and failed["group_id"] == passed["group_id"]:
        return FlakeEvent.Kind.REBUILD
    return FlakeEvent.Kind.RERUN


def events_of(connection_id: int, builds: dict[int, dict], jobs_of: JobsReader = read_jobs) -> dict[tuple, dict]:
    events: dict[tuple, dict] = {}
    for (_, pipeline_key, name), tries in tries_of(builds, jobs_of).items():
        if len(tries) < 2:
            continue
        tries.sort(key=lambda t: (t[0], t[1]))
        later_pass = None
        for moment, job_id, job in reversed(tries):  # walking back, remember the nearest later pass
            if job["state"] == State.PASSED:
                later_pass = job
                continue
            if later_pass is None:
                continue
            failed_build, passed_build = builds[job["build_id"]], builds[later_pass["build_id"]]
            events[(job_id,)] = {
                "connection_id": connection_id,
                "project_key": failed_build["project_id"] or 0,
                "pipeline_key": pipeline_key,
                "branch": failed_build["branch"],
                "day": day_of(failed_build["created_at"]),
                "job_name": name,
                "failed_build_id": failed_build["id"],
                "passed_job_id": later_pass["id"],
                "passed_build_id": passed_build["id"],
                "kind": kind_of(failed_build, passed_build),
                "commit_sha": failed_build["commit_sha"],
                "failed_at": moment,
            }
    return events
