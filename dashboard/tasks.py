"""Thin Celery tasks: the work lives in dashboard.sync."""

from celery import shared_task
from django.conf import settings

from dashboard import sync
from dashboard.ops.health import record_heartbeat


@shared_task(name="dashboard.tasks.dispatch_due_syncs")
def dispatch_due_syncs() -> list[int]:
    record_heartbeat()  # /healthz: beat is alive
    # Those falling due before the next look start on time, not up to a look late.
    due = sync.dispatch_due(ahead=settings.SYNC_DISPATCH_EVERY)
    for connection_id, wait in due.items():
        if wait > 0:
            sync_connection.apply_async((connection_id,), countdown=wait)
        else:
            sync_connection.delay(connection_id)
    return list(due)


# The sync stops itself at SYNC_TIME_LIMIT (its requests' deadline), in any pool. Celery's
# own limits are a backstop only where the pool enforces them (prefork): the default
# thread pool cannot stop a thread.
@shared_task(
    name="dashboard.tasks.sync_connection",
    soft_time_limit=settings.SYNC_TIME_LIMIT + 30,
    time_limit=settings.SYNC_TIME_LIMIT + 60,
)
def sync_connection(connection_id: int) -> dict | None:
    run = sync.sync_connection(connection_id)
    if run is None:
        return None
    return {"status": run.status, "created": run.created, "updated": run.updated, "requests": run.requests}
