"""Semaphore agents: client calls, adapter sync and actions (see semaphore.md)."""

from __future__ import annotations

from collections.abc import Iterator

from providers.base.adapter import Action
from providers.base.records import Batch


class AgentsClientMixin:
    """Client calls for agents; mixed into SemaphoreClient."""


class AgentsAdapterMixin:
    """Sync and actions for agents; mixed into SemaphoreAdapter."""

    AGENTS_ACTIONS: tuple[Action, ...] = ()

    def sync_agents(self, projects: list) -> Iterator[Batch]:
        yield from ()
