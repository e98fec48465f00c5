import os

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger, task_postrun, task_prerun, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

app = Celery("dashboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def schedule_dispatch(sender: Celery, **kwargs) -> None:
    from django.conf import settings

    # Dispatch has a queue of its own, so it never waits behind a backlog of syncs; it
    # does not expire (a late dispatch still dispatches, and a repeated one finds
    # nothing due).
    sender.add_periodic_task(
        settings.SYNC_DISPATCH_EVERY,
        sender.signature("dashboard.tasks.dispatch_due_syncs", queue=settings.CELERY_DISPATCH_QUEUE),
        name="dispatch due syncs",
    )
    # Notifications whose enqueue was lost or whose worker stopped (dashboard/notify/delivery.py).
    sender.add_periodic_task(
        settings.NOTIFY_SWEEP_EVERY,
        sender.signature("dashboard.notify.tasks.resend_stalled"),
        name="resend stalled notifications",
        expires=max(settings.NOTIFY_SWEEP_EVERY * 0.9, 1),
    )


@after_setup_logger.connect
@after_setup_task_logger.connect
def mask_secrets_in_worker_logs(logger, **kwargs) -> None:
    # Celery sets up its own log handlers; they get the same masking as the web's.
    from dashboard.secrets import RedactingFilter

    for handler in logger.handlers:
        handler.addFilter(RedactingFilter())


@task_prerun.connect
@task_postrun.connect
def give_back_old_database_connections(task=None, **kwargs) -> None:
    # In a thread pool each thread has its own connections (Django keeps them per
    # thread). Before and after a task, a connection is given back only when it is broken
    # or older than CONN_MAX_AGE, as around a web request, and the thread's next task
    # reuses it: opening one per task made PostgreSQL start a backend for every sync, a
    # third of the machine's CPU for a quiet one. A task run in place (eagerly) leaves
    # its caller's connection alone.
    from django.db import close_old_connections

    if task is not None and getattr(task.request, "is_eager", False):
        return
    close_old_connections()


@worker_ready.connect
def settle_worker(**kwargs) -> None:
    # Tasks are loaded: keep full collections from walking them during every sync.
    from dashboard.startup import settle

    settle()
