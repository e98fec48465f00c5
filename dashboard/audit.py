"""The audit log (who pressed which button) is written here, and kept within its
retention: entries older than ``AUDIT_KEEP_DAYS`` and all but the newest
``AUDIT_KEEP_ROWS`` go as new ones come. Both deletes walk an index from its old end
and touch only what they remove, so a write costs the same at any history size."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from dashboard.models import ActionLog


def record(entry: ActionLog) -> None:
    entry.save()
    prune(entry.pk)


def prune(newest_pk: int) -> int:
    """Delete what the retention settings no longer keep; the number deleted."""
    deleted = 0
    if settings.AUDIT_KEEP_DAYS:
        cutoff = timezone.now() - timedelta(days=settings.AUDIT_KEEP_DAYS)
        deleted += ActionLog.objects.filter(created_at__lt=cutoff).delete()[0]
    if settings.AUDIT_KEEP_ROWS:
        # Ids grow with every entry: everything this far below the newest is beyond the count.
        deleted += ActionLog.objects.filter(pk__lte=newest_pk - settings.AUDIT_KEEP_ROWS).delete()[0]
    return deleted
