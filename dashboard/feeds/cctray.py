"""The CCTray feed (cctray.xml): one <Project> per pipeline x branch, in the format that
CCMenu, CCTray, Nevergreen and BuildNotify read
(https://cctray.org/v1/: name, activity, lastBuildStatus, lastBuildLabel, lastBuildTime,
webUrl, and the optional nextBuildTime)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from xml.etree import ElementTree

from django.db.models import Min, Q, QuerySet

from dashboard.models import Build, Schedule
from dashboard.states import State

from .status import PairStatus, pair_statuses

ACTIVITY = {State.RUNNING: "Building", State.QUEUED: "CheckingModifications"}
STATUS = {State.PASSED: "Success", State.FAILED: "Failure"}


def feed_filter(params) -> Q:
    """The feed's query filters: ``connection`` (slug), ``project`` and ``pipeline`` (name
    or provider id), ``branch``; each may repeat (any of them matches)."""
    q = Q()
    if slugs := params.getlist("connection"):
        q &= Q(connection__slug__in=slugs)
    if projects := params.getlist("project"):
        q &= Q(project__name__in=projects) | Q(project__external_id__in=projects)
    if pipelines := params.getlist("pipeline"):
        q &= Q(pipeline__name__in=pipelines) | Q(pipeline__external_id__in=pipelines)
    if branches := params.getlist("branch"):
        q &= Q(branch__in=branches)
    return q


def project_name(pair: PairStatus) -> str:
    project = pair.pipeline.project or pair.newest.project
    parts = [pair.newest.connection.slug, project.name if project else "", pair.pipeline.name, pair.branch]
    return " / ".join(p for p in parts if p)


def iso(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else ""


def next_builds(pairs: list[PairStatus]) -> dict[int, datetime]:
    """The next fire time of each scheduled pipeline among the pairs (one query)."""
    rows = (
        Schedule.objects.filter(pipeline_id__in={p.pipeline.pk for p in pairs}, enabled=True, next_run_at__isnull=False)
        .values("pipeline_id")
        .annotate(next_at=Min("next_run_at"))
    )
    return {row["pipeline_id"]: row["next_at"] for row in rows}


def render(builds: QuerySet[Build], web_url: Callable[[Build], str]) -> bytes:
    """The feed for ``builds`` (already narrowed to what the reader may see)."""
    pairs = pair_statuses(builds)
    upcoming = next_builds(pairs) if pairs else {}
    names = [project_name(p) for p in pairs]
    repeated = {name for name, n in Counter(names).items() if n > 1}
    root = ElementTree.Element("Projects")
    for pair, name in zip(pairs, names, strict=True):
        # Label and time name the build the status comes from (the newest one while no
        # build has a verdict yet): clients compare them to spot a new result.
        last = pair.verdict or pair.newest
        attributes = {
            # Two pipelines may share a name; their provider ids tell them apart.
            "name": f"{name} ({pair.pipeline.external_id})" if name in repeated else name,
            "activity": ACTIVITY.get(pair.newest.state, "Sleeping"),
            "lastBuildStatus": STATUS[pair.verdict.state] if pair.verdict else "Unknown",
            "lastBuildLabel": last.number or last.external_id,
            "lastBuildTime": iso(last.finished_at or last.created_at),
            "webUrl": web_url(pair.newest),
        }
        if pair.pipeline.pk in upcoming:
            attributes["nextBuildTime"] = iso(upcoming[pair.pipeline.pk])
        ElementTree.SubElement(root, "Project", attributes)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
