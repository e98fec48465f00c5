"""Hooks for what follows a sync, so features that react to new data (insights rollups,
notifications, trace export) connect here instead of editing the sync engine.

``batch_applied`` is sent after each batch and its cursor are committed:
``connection``, ``changed_build_ids`` (primary keys of builds created or changed, jobs
included), ``finished_build_ids`` (builds that reached a finished state in this batch).
It is also sent when an action stores the provider's answer at once.

``sync_started`` is sent when a sync begins reading (``connection``), on the thread
that will send its batches; receivers may gather work across the sync's batches and
finish it on ``sync_finished``, which always follows on the same thread.

``sync_finished`` is sent after a sync has written the connection's health:
``connection``, ``run`` (its SyncRun; not saved when the sync was quiet: it found
nothing new and no trouble).

Receivers must not raise: the engine logs and swallows their errors, so a broken
receiver never fails a sync."""

import logging

from django.dispatch import Signal

log = logging.getLogger(__name__)

batch_applied = Signal()
sync_started = Signal()
sync_finished = Signal()


def send_safely(signal: Signal, **kwargs) -> None:
    for receiver, response in signal.send_robust(sender=None, **kwargs):
        if isinstance(response, Exception):
            log.error("%s receiver %r failed: %r", "sync hook", receiver, response, exc_info=response)
