import os

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

app = Celery("dashboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def schedule_dispatch(sender: Celery, **kwargs) -> None:
    from django.conf import settings

    every = settings.SYNC_DISPATCH_EVERY
    # expires a little under the period, so a backed-up queue never piles up dispatches.
    sender.add_periodic_task(
        every,
        sender.signature("dashboard.tasks.dispatch_due_syncs"),
        name="dispatch due syncs",
        expires=max(every * 0.9, 1),
    )


@after_setup_logger.connect
@after_setup_task_logger.connect
def mask_secrets_in_worker_logs(logger, **kwargs) -> None:
    # Celery sets up its own log handlers; they get the same masking as the web's.
    from dashboard.secrets import RedactingFilter

    for handler in logger.handlers:
        handler.addFilter(RedactingFilter())
