"""The contract between a provider package and the rest of the dashboard, and the sync
skeleton every provider shares.

A provider's adapter maps and fetches; the engine (``dashboard.sync``) writes. What an
adapter needs from stored state arrives in the ``SyncContext``. The shared pieces:

- ``scopes``: the projects (organizations, ...) to sync: named in the connection's
  options, or else listed (a complete listing is also evidence of deletions);
- ``repoll``: read again, in chunks, the builds the engine hands over (unfinished ones,
  and finished ones due a recheck); a 404 counts as evidence of deletion only while the
  provider answers other requests normally;
- ``scan``: a newest-first listing read down to a high-water mark, page by page, with
  its resume point and a retry list in the cursor, so a killed sync resumes, and no
  item that failed to read is ever passed over for good; ``scans``: several listings
  in turn, the next ones' first pages read while one is scanned.

Every provider call runs within the bounds the engine gives the client (requests,
time, pages); see ``providers.base.client``."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings

from .actions import Action, ActionSet
from .client import BaseClient
from .errors import CONNECTION_ERRORS, NotFound, ProviderError
from .panels import PanelSet
from .readahead import ReadAhead
from .records import ActionResult, Batch, BuildRecord, HeldBuild, Listing, LogPiece, SyncContext

if TYPE_CHECKING:
    from dashboard.models import Connection, Job

MAX_RETRY = 200  # items of one listing kept for reading again
SCAN_PAGES_PER_SYNC = 20


class Capability(StrEnum):
    """Which views apply to a provider's connections (buttons are ``Action``s)."""

    LOGS = "logs"
    LIVE_LOGS = "live_logs"
    JOB_DAG = "job_dag"
    ARTIFACTS = "artifacts"
    DEPLOYMENTS = "deployments"
    AGENTS = "agents"
    RETENTION = "retention"
    SCHEDULES = "schedules"
    METRICS = "metrics"


@dataclass
class Scope:
    """A project, organization or workspace part that a sync walks."""

    external_id: str
    name: str = ""
    raw: dict = field(default_factory=dict)


@dataclass
class ScanItem:
    """One entry of a newest-first listing: ``key`` grows with newness (a number, a
    creation time), ``data`` is the provider's item."""

    key: float
    external_id: str
    data: Any = None


@dataclass
class ScanPlan:
    """One newest-first listing to scan: its part of the cursor and how to read it (see
    ``Adapter.scan``)."""

    state: dict
    what: str
    fetch_page: Callable[[Any], tuple[list, Any]]
    item: Callable[[Any], ScanItem | None]
    read: Callable[[ScanItem], BuildRecord | None]
    reread: Callable[[str], BuildRecord | None]
    backfill_pages: int = 2
    skip: Iterable[str] = ()

    def __post_init__(self) -> None:
        self.skip = frozenset(self.skip)  # read twice: ahead and by the scan


def retry_delay(tries: int) -> float:
    """Seconds until an item that failed ``tries`` times is read again (see
    ``dashboard.apply.backoff``: at every sync at first, then doubling)."""
    eager = settings.RECHECK_EAGER_ATTEMPTS
    if tries <= eager:
        return 0.0
    return min(settings.RECHECK_BACKOFF_SECONDS * 2 ** (tries - eager - 1), settings.RECHECK_BACKOFF_MAX_SECONDS)


def chunks(seq: list, size: int) -> Iterator[list]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


class Adapter:
    kind: ClassVar[str]
    client_class: ClassVar[type[BaseClient]]
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    actions: ClassVar[ActionSet] = ActionSet()
    panels: ClassVar[PanelSet] = PanelSet()
    repoll_chunk: ClassVar[int] = 20

    def __init__(
        self,
        connection: Connection,
        client: BaseClient | None = None,
        *,
        interactive: bool = False,
        budget: int | None = None,
        deadline: float | None = None,
        before_request: Callable[[], None] | None = None,
    ):
        self.connection = connection
        self.options = connection.options if isinstance(connection.options, dict) else {}
        self.interactive = interactive
        self._client = client
        self._client_bounds = {"budget": budget, "deadline": deadline, "before_request": before_request}
        if deadline is not None:
            # The time limit runs from now, not from whenever the first request is made.
            self.client  # noqa: B018

    @property
    def client(self) -> BaseClient:
        """Made when first used: a panel or page that asks the provider nothing never
        makes one."""
        if self._client is None:
            self._client = self.make_client(interactive=self.interactive, **self._client_bounds)
        return self._client

    @client.setter
    def client(self, value: BaseClient) -> None:
        self._client = value

    def make_client(
        self,
        *,
        interactive: bool = False,
        budget: int | None = None,
        deadline: float | None = None,
        before_request: Callable[[], None] | None = None,
    ) -> BaseClient:
        # Pooled connections are reused across syncs and page views of this connection.
        share_as = f"{self.connection.pk}:{'page' if interactive else 'sync'}" if self.connection.pk else None
        if interactive:
            # A person waits for a page: ask briefly, never sleep on a Retry-After.
            seconds = settings.PAGE_PROVIDER_SECONDS
            return self.client_class(
                self.connection.base_url,
                self.connection.token,
                backoff=getattr(settings, "PROVIDER_RETRY_BACKOFF", None),
                max_attempts=2,
                timeout=seconds,
                budget=settings.PAGE_PROVIDER_REQUESTS,
                deadline=time.monotonic() + seconds,
                max_retry_after=0,
                share_as=share_as,
            )
        return self.client_class(
            self.connection.base_url,
            self.connection.token,
            backoff=getattr(settings, "PROVIDER_RETRY_BACKOFF", None),
            timeout=getattr(settings, "PROVIDER_TIMEOUT", None),
            budget=budget,
            deadline=deadline,
            before_request=before_request,
            concurrency=getattr(settings, "PROVIDER_CONCURRENCY", None),
            share_as=share_as,
        )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    @property
    def requests(self) -> int:
        return self._client.requests if self._client is not None else 0

    # Actions and panels -----------------------------------------------------------------
    @classmethod
    def action(cls, name: str) -> Action | None:
        return cls.actions.get(name)

    @classmethod
    def actions_for(cls, target: str) -> list[Action]:
        return cls.actions.for_target(target)

    def perform(self, action: Action, target: Any, params: dict, user: Any) -> ActionResult:
        """Run an action's handler. Errors are typed ProviderErrors in the provider's words."""
        return action.handler(self, target, params, user)

    def panel_context(self, obj: Any, request: Any, name: str) -> dict:
        panel = self.panels.get(name)
        return panel.context(self, obj, request) if panel else {}

    # What every provider writes --------------------------------------------------------
    def check(self) -> str:
        """Make one cheap authenticated call; return what was seen, in words, or raise
        a typed error."""
        raise NotImplementedError

    def sync(self, ctx: SyncContext) -> Iterator[Batch]:
        """Yield batches: what is defined (projects, pipelines), the builds to read again
        (``repoll``), then what is new since the cursor. Each batch carries the cursor
        that holds once it is committed."""
        raise NotImplementedError

    def read_build(self, held: HeldBuild) -> BuildRecord | None:
        """Read one held build again, with its jobs when they can be read (``jobs=None``
        otherwise). Raise ``NotFound`` when the provider says it has no such build."""
        raise NotImplementedError

    def fetch_log(self, job: Job, cursor: dict) -> LogPiece:
        """The job's log text after ``cursor``."""
        raise NotImplementedError

    # The shared skeleton ---------------------------------------------------------------
    def attempt(self, batch: Batch, what: str, call: Callable, *args: Any, **kwargs: Any) -> Any:
        """Run one provider call for one item. A failure about that item becomes a
        problem noted in the batch (and None); one about the whole connection ends the sync."""
        try:
            return call(*args, **kwargs)
        except CONNECTION_ERRORS:
            raise
        except ProviderError as exc:
            batch.problems.append(f"{what}: {exc}")
            return None

    def attempt_each(
        self, batch: Batch, what: Callable[[Any], str], call: Callable[[Any], Any], items: Iterable[Any]
    ) -> list[Any]:
        """``attempt`` of ``call(item)`` for every item, as many at once as the client has
        requests in flight (a listing per project need not wait for the one before);
        each item's problem is noted in the items' order."""
        answers = self.client.concurrently(lambda item: self._attempt_noted(what(item), call, item), list(items))
        for _, problems in answers:
            batch.problems.extend(problems)
        return [value for value, _ in answers]

    def _attempt_noted(self, what: str, call: Callable, item: Any) -> tuple[Any, list[str]]:
        """``attempt`` on a batch of its own (for a helper thread): the answer or None,
        and the problem noted."""
        noted = Batch()
        return self.attempt(noted, what, call, item), noted.problems

    def scopes(
        self, option: str, lister: Callable[[], Iterable[Scope]], model: str = "project"
    ) -> tuple[list[Scope], Batch]:
        """The scopes to sync, named in ``options[option]`` or else listed; and a batch
        with their records and, when listed, the listing as evidence."""
        configured = self.options.get(option)
        if isinstance(configured, list) and configured:
            found = [Scope(str(i), str(i)) for i in configured if str(i)]
            return found, Batch()
        found = list(lister())
        return found, Batch(listings=[Listing(model, {s.external_id for s in found})])

    def repoll(self, ctx: SyncContext) -> Iterator[Batch]:
        """Read again the builds the engine handed over, a chunk per batch."""
        answered, missing = 0, []
        for part in chunks(ctx.repoll, self.repoll_chunk):
            batch = Batch()
            for held in part:
                try:
                    record = self.read_build(held)
                except NotFound:
                    missing.append(held.external_id)
                    continue
                except CONNECTION_ERRORS:
                    raise
                except ProviderError as exc:
                    batch.problems.append(f"build {held.external_id}: {exc}")
                    continue
                answered += 1
                if record is not None:
                    batch.builds.append(record)
            yield batch
        if missing:
            yield self.weigh_missing("build", missing, answered, ctx)

    def weigh_missing(self, model: str, missing: list[str], answered: int, ctx: SyncContext) -> Batch:
        """404s are evidence of deletion only while the provider answers other requests
        normally: when nothing else was read, a build we know finished is asked for."""
        if answered or self.control_answers(ctx):
            return Batch(not_found=[(model, external_id) for external_id in missing])
        return Batch(
            problems=[
                f"the provider answered 'not found' for {len(missing)} {model}(s) while it could not show "
                "anything else either; they are kept"
            ]
        )

    def control_answers(self, ctx: SyncContext) -> bool:
        control = ctx.control()
        if control is None:
            return False
        try:
            self.read_build(control)
        except CONNECTION_ERRORS:
            raise
        except ProviderError:
            return False
        return True

    def scan(
        self,
        ctx: SyncContext,
        cursor: dict,
        state: dict,
        *,
        what: str,
        fetch_page: Callable[[Any], tuple[list, Any]],
        item: Callable[[Any], ScanItem | None],
        read: Callable[[ScanItem], BuildRecord | None],
        reread: Callable[[str], BuildRecord | None],
        backfill_pages: int = 2,
        skip: Iterable[str] = (),
    ) -> Iterator[Batch]:
        """Read a newest-first listing down to its high-water mark.

        ``state`` is this listing's part of ``cursor`` (changed in place; every batch
        carries a copy of the whole ``cursor``): ``hwm``, the newest key a complete scan
        saw; ``scan``, where an unfinished scan resumes; ``retry``, items that failed to
        read, read again first (with back-off) until read or shown gone. The mark moves
        only when a scan completes, past items that sit in the retry list; when that
        list is full, the scan stops at the item instead and resumes there.

        ``fetch_page(position)`` answers ``(items, next position)``; ``item(data)`` gives
        its key and id (None skips it, noted); ``read(item)`` the build record (None or
        an error when it failed); ``reread(external_id)`` reads a retry entry (raising
        ``NotFound`` when it is gone). ``skip``: ids already read in this sync."""
        plan = ScanPlan(state, what, fetch_page, item, read, reread, backfill_pages, skip)
        yield from self.scans(ctx, cursor, [plan])

    def scans(self, ctx: SyncContext, cursor: dict, plans: Iterable[ScanPlan]) -> Iterator[Batch]:
        """``scan`` each plan in turn. While one listing is scanned, the first pages of
        the next few (as many as the client has requests in flight) are read, so a
        connection with many listings does not ask for them one after the other; and
        the items wanted from the next listing's first page, so its first batch does not
        wait for them. What reading ahead may read in vain when a sync ends early (a
        spent request budget) is thus at most a page of the current listing's items and
        one of the next one's. Where the connection holds builds, a listing without a
        mark (a lost cursor, a new pipeline) has no items read ahead: they may all be
        held already."""
        upcoming = iter(plans)
        started: list[tuple[ScanPlan, ReadAhead]] = []
        try:
            while True:
                while len(started) <= self.client.concurrency and (plan := next(upcoming, None)) is not None:
                    first = not started  # the listing about to be scanned: its items too
                    started.append((plan, self._read_first_page_ahead(ctx, plan, items=first)))
                if not started:
                    return
                plan, ahead = started.pop(0)
                if started and self._may_read_items_ahead(ctx, started[0][0]):
                    following, its_ahead = started[0]
                    its_ahead.read_items_too(following.state.get("hwm"), following.skip)
                with ahead:
                    yield from self._scan(ctx, cursor, plan, ahead)
        finally:
            for _, ahead in started:
                ahead.close()

    @staticmethod
    def _may_read_items_ahead(ctx: SyncContext, plan: ScanPlan) -> bool:
        return plan.state.get("hwm") is not None or not ctx.holds_builds()

    def _read_first_page_ahead(self, ctx: SyncContext, plan: ScanPlan, *, items: bool) -> ReadAhead:
        scan = plan.state.get("scan") or {}
        pages = self.client.paged(
            plan.fetch_page, what=plan.what, start=scan.get("next"), max_pages=SCAN_PAGES_PER_SYNC + 1
        )
        ahead = ReadAhead(
            self.client,
            pages,
            plan.item,
            lambda entry: self._attempt_noted(f"{plan.what}: {entry.external_id}", plan.read, entry),
        )
        ahead.start(plan.state.get("hwm"), plan.skip, items=items and self._may_read_items_ahead(ctx, plan))
        return ahead

    def _scan(self, ctx: SyncContext, cursor: dict, plan: ScanPlan, ahead: ReadAhead) -> Iterator[Batch]:
        state, what, item = plan.state, plan.what, plan.item
        skipped = set(plan.skip)
        yield from self._retry(ctx, cursor, state, what, plan.reread, skipped)
        hwm = state.get("hwm")
        scan = {"next": None, "top": None, "pages": 0, **(state.get("scan") or {})}
        limit = None if hwm is not None else max(int(plan.backfill_pages), 1)
        retry = state.setdefault("retry", [])
        read_pages = 0
        while True:
            batch = Batch()
            page, early = ahead.take()
            if page is None:
                return
            if isinstance(page, CONNECTION_ERRORS):
                raise page
            if isinstance(page, ProviderError):
                batch.problems.append(f"{what}: {page}")
                yield batch  # the scan resumes from the same page next time
                return
            if isinstance(page, BaseException):
                raise page
            listed, following = page
            read_pages += 1
            if not listed and following is not None:
                # An empty page that says there is more is not the end: what lies past
                # it would be passed over for good.
                batch.problems.append(f"{what}: an empty page that says there is more; the listing resumes there")
                batch.cursor = copy.deepcopy(cursor)
                yield batch
                return
            entries = [e for e in map(item, listed) if e is not None]
            if len(entries) < len(listed):
                batch.problems.append(f"{len(listed) - len(entries)} item(s) of {what} without an id were skipped")
            finished = ctx.finished_ids([e.external_id for e in entries])
            wanted, stop = self._wanted(entries, scan, hwm, finished, skipped)
            full = False

            # Each item costs its own requests: read together (or already, ahead), taken
            # in the listing's order.
            for entry, (record, problems) in zip(wanted, ahead.read(wanted, early), strict=True):
                batch.problems.extend(problems)
                if record is not None:
                    batch.builds.append(record)
                    skipped.add(entry.external_id)
                elif len(retry) < MAX_RETRY:
                    if entry.external_id not in {r["id"] for r in retry}:
                        retry.append({"id": entry.external_id, "tries": 1, "due": time.time()})
                else:
                    full = True  # hold the mark here rather than pass an unread item
                    break
            scan["pages"] += 1
            if full:
                batch.problems.append(f"{what}: too many items could not be read; the listing resumes at them")
                state["scan"] = {**scan, "next": scan["next"]}
                batch.cursor = copy.deepcopy(cursor)
                yield batch
                return
            done = stop or following is None or not listed or (limit is not None and scan["pages"] >= limit)
            if done:
                keys = [k for k in (hwm, scan["top"]) if k is not None]
                state["hwm"] = max(keys) if keys else None
                state.pop("scan", None)
            else:
                scan["next"] = following
                state["scan"] = dict(scan)
            batch.cursor = copy.deepcopy(cursor)
            if done or read_pages >= SCAN_PAGES_PER_SYNC:
                yield batch
                return
            # The next page is read while this batch is written.
            ahead.start(hwm, skipped)
            yield batch

    @staticmethod
    def _wanted(
        entries: list[ScanItem], scan: dict, hwm: Any, finished: set[str], skipped: set[str]
    ) -> tuple[list[ScanItem], bool]:
        """The page's items to read, in order, and whether the scan stops on this page
        (it reached its mark, or, without one, a build we hold as finished). Moves
        ``scan["top"]`` to the newest key seen."""
        wanted: list[ScanItem] = []
        chosen: set[str] = set()
        for entry in entries:
            scan["top"] = entry.key if scan["top"] is None else max(scan["top"], entry.key)
            if hwm is not None and entry.key < hwm:
                return wanted, True
            if entry.external_id in finished or entry.external_id in skipped:
                if hwm is None and entry.external_id in finished:
                    return wanted, True  # no mark (a lost cursor): what we hold ends the scan
                continue
            if entry.external_id not in chosen:
                chosen.add(entry.external_id)
                wanted.append(entry)
        return wanted, False

    def _retry(
        self, ctx: SyncContext, cursor: dict, state: dict, what: str, reread: Callable, skipped: set[str]
    ) -> Iterator[Batch]:
        entries = [dict(e) for e in state.get("retry") or [] if isinstance(e, dict) and e.get("id")]
        if not entries:
            return
        batch, now, kept, missing, answered = Batch(), time.time(), [], [], 0
        for entry in entries:
            if entry["id"] in skipped or entry.get("due", 0) > now:
                kept.append(entry)
                continue
            try:
                record = reread(entry["id"])
            except NotFound:
                missing.append(entry)
                continue
            except CONNECTION_ERRORS:
                raise
            except ProviderError as exc:
                batch.problems.append(f"{what}: {entry['id']} (tried {entry.get('tries', 1) + 1} times): {exc}")
                tries = int(entry.get("tries", 1)) + 1
                kept.append({**entry, "tries": tries, "due": now + retry_delay(tries)})
                continue
            answered += 1
            if record is not None:
                batch.builds.append(record)
                skipped.add(entry["id"])
        confirmed = answered or (missing and self.control_answers(ctx))
        for entry in missing:
            since = entry.get("missing_since") or now
            seen = int(entry.get("missing", 0)) + (1 if confirmed else 0)
            gone = seen >= settings.GONE_CONFIRM_SYNCS and now - since >= settings.GONE_CONFIRM_SECONDS
            if not gone:
                kept.append({**entry, "missing": seen, "missing_since": since})
        state["retry"] = kept
        batch.cursor = copy.deepcopy(cursor)
        yield batch
