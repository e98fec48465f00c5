"""A connection whose token no configured key can decrypt (FIELD_ENCRYPTION_KEY lost a
key before ``manage.py rotate_field_key`` re-encrypted it) is not synced with an empty
token: its health says so, and stays so until an admin enters the token again."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from dashboard.fields import is_unreadable
from dashboard.models import Connection, Health, SyncRun
from dashboard.public_errors import TOKEN_UNREADABLE
from dashboard.signals import send_safely, sync_finished


def refuse_unreadable_token(connection: Connection) -> SyncRun | None:
    """When the connection's token cannot be read: record a failed sync, mark the
    connection "auth failed: token unreadable, re-enter it" and return the run; else None."""
    if not is_unreadable(connection.token):
        return None
    now = timezone.now()
    run = SyncRun.objects.create(
        connection=connection, status=SyncRun.Status.FAILED, finished_at=now, duration=0, error=TOKEN_UNREADABLE
    )
    Connection.objects.filter(pk=connection.pk).update(
        health=Health.AUTH_FAILED,
        last_error=TOKEN_UNREADABLE,
        last_synced_at=now,
        next_sync_at=now + timedelta(seconds=connection.sync_interval),
    )
    connection.refresh_from_db()
    send_safely(sync_finished, connection=connection, run=run)
    return run
