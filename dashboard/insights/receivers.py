"""What connects insights to the sync: ``batch_applied`` refreshes the rollups of the
builds a batch changed; ``sync_finished`` samples agent capacity and picks up the
deployment history the sync wrote (deployments are not builds, so no batch names them).

Within a sync the builds of its batches are gathered and their rollups refreshed
together (when ``ROLLUP_FLUSH_BUILDS`` have gathered, and when the sync ends): a day's
groups are recomputed whole, so refreshing them after every batch of a long first sync
read the same days again and again. Outside a sync (an action's answer) a batch is
refreshed at once."""

from __future__ import annotations

import logging
import threading

from dashboard.signals import batch_applied, sync_finished, sync_started
from providers.base.adapter import Capability
from providers.registry import adapter_class

log = logging.getLogger(__name__)

# Builds gathered before a refresh within one sync: bounds the work left undone when a
# worker dies mid-sync (``rebuild_insights`` recomputes everything).
ROLLUP_FLUSH_BUILDS = 5000
_gathered = threading.local()


def _pending() -> dict[int, set[int]]:
    if not hasattr(_gathered, "builds"):
        _gathered.builds = {}
    return _gathered.builds


def _flush(connection_id: int) -> None:
    from . import rollup

    ids = _pending().get(connection_id)
    if ids:
        _pending()[connection_id] = set()
        rollup.refresh(connection_id, ids)


def on_sync_started(sender, connection, **kwargs) -> None:
    _pending()[connection.pk] = set()


def on_batch_applied(sender, connection, changed_build_ids, finished_build_ids=(), **kwargs) -> None:
    from . import rollup

    gathered = _pending().get(connection.pk)
    if gathered is None:
        rollup.refresh(connection.pk, changed_build_ids)
        return
    gathered.update(changed_build_ids)
    if len(gathered) >= ROLLUP_FLUSH_BUILDS:
        _flush(connection.pk)


def on_sync_finished(sender, connection, run, **kwargs) -> None:
    from . import capacity, dora

    try:
        _flush(connection.pk)
    finally:
        _pending().pop(connection.pk, None)
    # Only providers that have agents or deployments have anything to sample or refresh.
    capabilities = adapter_class(connection.kind).capabilities
    if Capability.AGENTS in capabilities:
        capacity.sample(connection.pk)
    if Capability.DEPLOYMENTS in capabilities:
        dora.refresh_deployments(connection.pk, run.started_at)


def connect() -> None:
    sync_started.connect(on_sync_started, dispatch_uid="insights-gather")
    batch_applied.connect(on_batch_applied, dispatch_uid="insights-rollups")
    sync_finished.connect(on_sync_finished, dispatch_uid="insights-capacity-deployments")
    from . import admin  # noqa: F401  (registers the settings model in Django admin)
