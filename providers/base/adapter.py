"""The contract between a provider package and the rest of the dashboard."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings

from .client import BaseClient
from .errors import CONNECTION_ERRORS, ProviderError
from .records import ActionResult, Batch, LogPiece, SyncContext

if TYPE_CHECKING:
    from dashboard.models import Connection, Job


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


@dataclass(frozen=True)
class Action:
    """A button. ``target`` names the model it acts on ("build", "job", "pipeline",
    "project", "connection", ...). ``form`` (a Django form class) takes and validates
    the parameters before anything is sent; ``destructive`` actions are confirmed by the
    user first; ``secret_fields`` are never written to the audit log. ``applies`` says
    whether the button is offered for a given object (e.g. only unfinished builds), and
    ``unavailable`` may give the reason it is shown disabled."""

    name: str
    label: str
    target: str
    destructive: bool = False
    form: type | None = None
    secret_fields: tuple[str, ...] = ()
    applies: Callable[[Any], bool] | None = None
    unavailable: Callable[[Any], str] | None = None
    help: str = ""

    def offered_for(self, obj: Any) -> bool:
        return self.applies is None or bool(self.applies(obj))


class Adapter:
    kind: ClassVar[str]
    client_class: ClassVar[type[BaseClient]]
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    actions: ClassVar[tuple[Action, ...]] = ()
    # Panels whose context asks the provider: they load after the page.
    live_panels: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, connection: Connection, client: BaseClient | None = None, *, interactive: bool = False):
        self.connection = connection
        self.options = connection.options if isinstance(connection.options, dict) else {}
        self.client = client or self.make_client(interactive=interactive)

    def make_client(self, interactive: bool = False) -> BaseClient:
        # A person waits for a page: ask briefly, rather than retry for a minute.
        return self.client_class(
            self.connection.base_url,
            self.connection.token,
            backoff=getattr(settings, "PROVIDER_RETRY_BACKOFF", None),
            max_attempts=2 if interactive else None,
            timeout=5.0 if interactive else None,
        )

    def close(self) -> None:
        self.client.close()

    @classmethod
    def action(cls, name: str) -> Action | None:
        return next((a for a in cls.actions if a.name == name), None)

    @classmethod
    def actions_for(cls, target: str) -> list[Action]:
        return [a for a in cls.actions if a.target == target]

    def perform(self, action: Action, target: Any, params: dict, user: Any) -> ActionResult:
        """Run an action: ``do_<name>(target, params, user)`` on the adapter. Errors are
        typed ProviderErrors carrying the provider's words."""
        return getattr(self, f"do_{action.name}")(target, params, user)

    @property
    def requests(self) -> int:
        return self.client.requests

    def attempt(self, batch: Batch, what: str, call, *args, **kwargs):
        """Run one provider call for one item. A failure about that item becomes a
        problem noted in the batch (and None); one about the whole connection ends the sync."""
        try:
            return call(*args, **kwargs)
        except CONNECTION_ERRORS:
            raise
        except ProviderError as exc:
            batch.problems.append(f"{what}: {exc}")
            return None

    def check(self) -> str:
        """Make one cheap authenticated call; return what was seen, in words, or raise
        a typed error."""
        raise NotImplementedError

    def sync(self, ctx: SyncContext) -> Iterator[Batch]:
        """Yield batches: re-polls of the unfinished builds, then what is new since the
        cursor. Each batch carries the cursor that holds once it is committed."""
        raise NotImplementedError

    def panel_context(self, obj: Any, request: Any, name: str) -> dict:
        """Context for the provider's own panel ``templates/providers/<kind>/<name>.html``
        on the page of ``obj``; may ask the provider (errors are shown in the panel)."""
        return {}

    def fetch_log(self, job: Job, cursor: dict) -> LogPiece:
        """The job's log text after ``cursor``."""
        raise NotImplementedError
