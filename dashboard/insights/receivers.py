"""What connects insights to the sync: ``batch_applied`` refreshes the rollups of the
builds a batch changed; ``sync_finished`` samples agent capacity and picks up the
deployment history the sync wrote (deployments are not builds, so no batch names them)."""

from __future__ import annotations

import logging

from dashboard.signals import batch_applied, sync_finished

log = logging.getLogger(__name__)


def on_batch_applied(sender, connection, changed_build_ids, finished_build_ids=(), **kwargs) -> None:
    from . import rollup

    rollup.refresh(connection.pk, changed_build_ids)


def on_sync_finished(sender, connection, run, **kwargs) -> None:
    from . import capacity, dora

    capacity.sample(connection.pk)
    dora.refresh_deployments(connection.pk, run.started_at)


def connect() -> None:
    batch_applied.connect(on_batch_applied, dispatch_uid="insights-rollups")
    sync_finished.connect(on_sync_finished, dispatch_uid="insights-capacity-deployments")
    from . import admin  # noqa: F401  (registers the settings model in Django admin)
