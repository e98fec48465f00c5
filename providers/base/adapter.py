"""The contract between a provider package and the rest of the dashboard."""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

from django.conf import settings

from .client import BaseClient
from .errors import CONNECTION_ERRORS, ProviderError
from .records import Batch, LogPiece, SyncContext

if TYPE_CHECKING:
    from dashboard.models import Connection, Job


class Capability(StrEnum):
    """Which views and buttons apply to a provider's connections."""

    LOGS = "logs"
    LIVE_LOGS = "live_logs"
    JOB_DAG = "job_dag"


class Adapter:
    kind: ClassVar[str]
    client_class: ClassVar[type[BaseClient]]
    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    def __init__(self, connection: Connection, client: BaseClient | None = None):
        self.connection = connection
        self.options = connection.options if isinstance(connection.options, dict) else {}
        self.client = client or self.make_client()

    def make_client(self) -> BaseClient:
        return self.client_class(
            self.connection.base_url,
            self.connection.token,
            backoff=getattr(settings, "PROVIDER_RETRY_BACKOFF", None),
        )

    def close(self) -> None:
        self.client.close()

    def supports(self, capability: Capability | str) -> bool:
        return capability in self.capabilities

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

    def fetch_log(self, job: Job, cursor: dict) -> LogPiece:
        """The job's log text after ``cursor``."""
        raise NotImplementedError
