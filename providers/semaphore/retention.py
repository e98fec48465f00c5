"""Semaphore retention: client calls, adapter sync and actions (see semaphore.md)."""

from __future__ import annotations

from collections.abc import Iterator

from providers.base.adapter import Action
from providers.base.records import Batch


class RetentionClientMixin:
    """Client calls for retention; mixed into SemaphoreClient."""


class RetentionAdapterMixin:
    """Sync and actions for retention; mixed into SemaphoreAdapter."""

    RETENTION_ACTIONS: tuple[Action, ...] = ()

    def sync_retention(self, projects: list) -> Iterator[Batch]:
        yield from ()
