"""What an adapter hands to the sync engine: neutral records, independent of any
provider's JSON, grouped in batches that are committed together with their cursor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dashboard.states import State


@dataclass
class ProjectRecord:
    external_id: str
    name: str
    raw: dict = field(default_factory=dict)


@dataclass
class PipelineRecord:
    external_id: str
    name: str
    project_id: str | None = None
    raw: dict = field(default_factory=dict)


@dataclass
class ScheduleRecord:
    external_id: str
    name: str
    cron: str = ""
    timezone: str = ""
    enabled: bool = True
    project_id: str | None = None
    pipeline_id: str | None = None
    next_run_at: datetime | None = None
    last_run_at: datetime | None = None
    raw: dict = field(default_factory=dict)


@dataclass
class JobRecord:
    external_id: str
    name: str
    state: State
    raw_state: str = ""
    group: str = ""
    position: int = 0
    exit_code: int | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    depends_on: list[str] = field(default_factory=list)
    # It failed, but the provider let the build go on (Harmont's soft fail).
    allowed_failure: bool = False
    raw: dict = field(default_factory=dict)


@dataclass
class BuildRecord:
    external_id: str
    state: State
    created_at: datetime
    raw_state: str = ""
    project_id: str | None = None
    pipeline_id: str | None = None
    number: str = ""
    title: str = ""
    group_id: str = ""
    branch: str = ""
    commit_sha: str = ""
    commit_message: str = ""
    triggered_by: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    web_url: str = ""
    raw: dict = field(default_factory=dict)
    # None: jobs were not fetched this time, keep what is stored.
    jobs: list[JobRecord] | None = None


@dataclass
class RowRecord:
    """A row of one of the other neutral models ("agent_type", "agent",
    "deployment_target", "deployment", "retention_policy"): its fields, and its foreign
    keys as (model, external id) pairs resolved by the sync engine."""

    model: str
    external_id: str
    fields: dict[str, Any]
    refs: dict[str, tuple[str, str | None]] = field(default_factory=dict)


@dataclass
class Listing:
    """A complete, well-formed answer to "list every <model>" within ``scope``, the
    only evidence (with ``Batch.not_found``) that something was deleted at the provider.
    ``scope`` narrows the stored rows it covers by their parents' external ids, e.g.
    ``{"project": "p1"}`` for the pipelines of project p1; empty means the connection.
    A listing that failed, was cut short, or lacked its key must not be sent."""

    model: str
    ids: set[str]
    scope: dict[str, str] = field(default_factory=dict)


@dataclass
class Batch:
    """Rows to commit together. ``cursor`` (when set) is stored in the same transaction,
    so the cursor never runs ahead of the rows it covers.

    Deletions at the provider are never taken from one answer: a row missing from a
    ``Listing`` or answered 404 in ``not_found`` is marked gone only once that has held
    over two syncs and a while (see ``dashboard.evidence``); a row seen again is
    restored. ``removed`` is for what we know is gone because we deleted it (an action)."""

    projects: list[ProjectRecord] = field(default_factory=list)
    pipelines: list[PipelineRecord] = field(default_factory=list)
    builds: list[BuildRecord] = field(default_factory=list)
    schedules: list[ScheduleRecord] = field(default_factory=list)
    rows: list[RowRecord] = field(default_factory=list)
    listings: list[Listing] = field(default_factory=list)
    # (model, external id) asked for alone and answered 404, while the provider answered
    # other requests of the same sync normally.
    not_found: list[tuple[str, str]] = field(default_factory=list)
    # Rows we deleted ourselves: (model name, external id).
    removed: list[tuple[str, str]] = field(default_factory=list)
    cursor: dict[str, Any] | None = None
    # Parts that failed without failing the sync, in words.
    problems: list[str] = field(default_factory=list)


@dataclass
class HeldBuild:
    """A build we hold that must be read again: unfinished, or finished but incomplete
    (jobs never read, a state we did not know), or marked gone and due for a look. With
    what we stored of it and of its jobs (``jobs``: external id -> {"state", "raw"})."""

    external_id: str
    project_id: str | None
    raw: dict
    jobs: dict[str, dict] = field(default_factory=dict)
    state: str = ""
    gone: bool = False


@dataclass
class LogPiece:
    """New log text since ``cursor``; ``complete`` once the job's log is final."""

    text: str
    cursor: dict
    complete: bool
    exit_code: int | None = None


@dataclass
class SyncContext:
    """What a sync starts from, so adapters never query the database themselves: the
    stored cursor; the builds to read again (``repoll``); a build we hold as finished
    that can be read to check the provider answers normally (``control()``, looked up
    only when a 404 needs it); which of
    some builds we hold as finished (never to be fetched again; builds marked gone are
    not among them, so a listing that shows one again has it read and restored); and
    ``stored(model, fields, **filters)``, a read-only look at this connection's rows
    (e.g. the newest deployment held for a target); whether it holds any build at all
    (``holds_builds()``)."""

    cursor: dict
    repoll: list[HeldBuild]
    finished_ids: Callable[[list[str]], set[str]]
    find_control: Callable[[], HeldBuild | None] = lambda: None
    stored: Callable[..., list[dict]] = lambda model, fields=(), **filters: []
    find_any_build: Callable[[], bool] = lambda: True

    def control(self) -> HeldBuild | None:
        if not hasattr(self, "_control"):
            self._control = self.find_control()
        return self._control

    def holds_builds(self) -> bool:
        """Whether the connection held any build when first asked (asked before the
        sync writes one: a later answer can only be yes)."""
        if not hasattr(self, "_holds_builds"):
            self._holds_builds = self.find_any_build()
        return self._holds_builds


@dataclass
class ActionResult:
    """What an action did, in words. ``refresh`` holds the target's new state to store at
    once; ``once`` holds values shown to the user a single time and never stored or
    logged (a debug SSH key, a registration token); ``redirect`` is where to go next,
    as a path of ours, and ``show_build`` names a build to go to instead (one the
    action started and ``refresh`` holds)."""

    message: str
    refresh: Batch | None = None
    once: dict[str, str] | None = None
    redirect: str | None = None
    # The build the action started (its external id): the page goes there next.
    show_build: str | None = None
