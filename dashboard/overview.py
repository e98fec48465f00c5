"""What a team wants to see at a glance: per pipeline and branch ("lane") the latest
build and whether it is red, what runs now, how each connection is doing, and the one
overall state the favicon shows.

Lanes come from the most recent builds only (``SCAN``, read through the recency
indexes), so the cost is the same at a thousand builds and at ten million; a lane
that has not built within them is not "now"."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.core.cache import cache
from django.db.models import Count, QuerySet
from django.utils import timezone

from dashboard.models import Build, Connection
from dashboard.models.connections import Health
from dashboard.states import ACTIVE, State

SCAN = 3000
RUNNING_SHOWN = 12
STATE_CACHE_SECONDS = 5
UNHEALTHY = frozenset({Health.DEGRADED, Health.AUTH_FAILED, Health.UNREACHABLE, Health.STALLED})
RESULTS = frozenset({State.PASSED, State.FAILED})

# Colour families: tiles, rows and the favicon use these words.
COLOURS = {
    State.PASSED: "green",
    State.FAILED: "red",
    State.RUNNING: "running",
    State.QUEUED: "running",
    State.BLOCKED: "amber",
    State.CANCELED: "amber",
    State.SKIPPED: "grey",
    State.UNKNOWN: "amber",
}


def colour(build: Build) -> str:
    return COLOURS.get(build.state, "amber")


def lane_key(build: Build) -> tuple:
    if build.pipeline_id:
        return (build.connection_id, "pipeline", build.pipeline_id, build.branch)
    if build.project_id:
        return (build.connection_id, "project", build.project_id, build.branch)
    return (build.connection_id, "", "", build.branch)


@dataclass
class Lane:
    """One pipeline and branch: its newest build, its newest result (passed or failed)
    and, when that result is a failure, the first failure of the red streak."""

    latest: Build
    result: Build | None = None
    red_since: Build | None = None
    streak_known: bool = False  # a pass before the streak was seen (else "at least since")
    failures: int = 0  # failed builds in the red streak
    builds_seen: int = 0
    _done: bool = field(default=False, repr=False)

    def take(self, build: Build) -> None:
        self.builds_seen += 1
        if self._done or build.state not in RESULTS:
            return
        if self.result is None:
            self.result = build
        if self.result.state == State.FAILED and build.state == State.FAILED:
            self.red_since = build
            self.failures += 1
        else:
            self._done = True
            self.streak_known = True

    @property
    def name(self) -> str:
        b = self.latest
        if b.pipeline is not None:
            return b.pipeline.name
        if b.project is not None:
            return b.project.name
        return b.title or b.connection.name

    @property
    def project_name(self) -> str:
        b = self.latest
        return b.project.name if b.project is not None and b.pipeline is not None else ""

    @property
    def running(self) -> bool:
        return self.latest.state in ACTIVE

    @property
    def red(self) -> bool:
        return self.result is not None and self.result.state == State.FAILED

    @property
    def colour(self) -> str:
        if self.running:
            return "running"
        if self.result is not None and self.result.pk == self.latest.pk:
            return colour(self.result)
        return colour(self.latest)

    @property
    def previous_colour(self) -> str:
        """For a running lane: how its last result went."""
        return colour(self.result) if self.result is not None else ""

    @property
    def connection(self) -> Connection:
        return self.latest.connection

    @property
    def unhealthy(self) -> bool:
        return self.connection.health_now.value in UNHEALTHY

    @property
    def sort_key(self) -> tuple:
        rank = {"red": 0, "running": 1, "amber": 2}.get(self.colour, 3)
        return (rank, self.name.lower(), self.latest.branch)


# Columns lanes never show: not read for the thousands of builds a scan looks at.
UNSHOWN = (
    "raw",
    "commit_message",
    "fingerprint",
    "synced_at",
    "missing_since",
    "missing_count",
    "recheck_at",
    "recheck_attempts",
    "group_id",
    "web_url",
)


def recent_builds(queryset: QuerySet | None = None, scan: int = SCAN) -> list[Build]:
    """The newest ``scan`` builds. Their few connections are read once and shared,
    rather than joined (and their tokens decrypted) once per build."""
    queryset = Build.objects.all() if queryset is None else queryset
    builds = list(
        queryset.filter(gone=False)
        .select_related("project", "pipeline")
        .defer(*UNSHOWN)
        .order_by("-created_at", "-id")[:scan]
    )
    connections = Connection.objects.defer("token", "options", "sync_cursor").in_bulk({b.connection_id for b in builds})
    for build in builds:
        build.connection = connections[build.connection_id]
    return builds


def lanes(queryset: QuerySet | None = None, scan: int = SCAN) -> list[Lane]:
    """Every lane seen among the newest ``scan`` builds, red first, then running."""
    found: dict[tuple, Lane] = {}
    for build in recent_builds(queryset, scan):
        key = lane_key(build)
        lane = found.get(key)
        if lane is None:
            lane = found[key] = Lane(latest=build)
        lane.take(build)
    return sorted(found.values(), key=lambda lane: lane.sort_key)


def running_now(limit: int = RUNNING_SHOWN) -> list[Build]:
    return list(Build.objects.filter(state__in=ACTIVE, gone=False).rows().order_by("-created_at", "-id")[:limit])


def active_builds_by_connection() -> dict[int, int]:
    """Builds queued, running or blocked now, per connection id. Read through the state
    index, so it costs as many rows as are active, not as many as were ever synced."""
    rows = Build.objects.filter(state__in=ACTIVE).values_list("connection_id").annotate(n=Count("id")).order_by()
    return dict(rows)


def counts(lane_list: list[Lane]) -> dict:
    since = timezone.now() - timedelta(hours=24)
    by_state = dict(Build.objects.filter(created_at__gte=since).values_list("state").annotate(n=Count("id")).order_by())
    active = dict(
        Build.objects.filter(state__in=ACTIVE, gone=False).values_list("state").annotate(n=Count("id")).order_by()
    )
    return {
        "running": active.get(State.RUNNING, 0),
        "waiting": active.get(State.QUEUED, 0) + active.get(State.BLOCKED, 0),
        "red": sum(1 for lane in lane_list if lane.red),
        "lanes": len(lane_list),
        "day_passed": by_state.get(State.PASSED, 0),
        "day_failed": by_state.get(State.FAILED, 0),
        "day_total": sum(by_state.values()),
    }


def overall_state() -> str:
    """One word for the favicon: red (something is red), running, green, or unknown
    (nothing synced yet). Cached briefly: every open tab asks."""

    def compute() -> str:
        lane_list = lanes()
        if any(lane.red for lane in lane_list):
            return "red"
        if any(lane.running for lane in lane_list):
            return "running"
        return "green" if lane_list else "unknown"

    return cache.get_or_set("overview:state", compute, STATE_CACHE_SECONDS)
