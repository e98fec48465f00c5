"""Semaphore deployments: client calls, adapter sync and actions (see semaphore.md)."""

from __future__ import annotations

from collections.abc import Iterator

from providers.base.adapter import Action
from providers.base.records import Batch


class DeploymentsClientMixin:
    """Client calls for deployments; mixed into SemaphoreClient."""


class DeploymentsAdapterMixin:
    """Sync and actions for deployments; mixed into SemaphoreAdapter."""

    DEPLOYMENTS_ACTIONS: tuple[Action, ...] = ()

    def sync_deployments(self, projects: list) -> Iterator[Batch]:
        yield from ()
