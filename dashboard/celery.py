import os

from celery import Celery

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
    # Notifications whose enqueue was lost or whose worker stopped (dashboard/notify/delivery.py).
    sender.add_periodic_task(
        settings.NOTIFY_SWEEP_EVERY,
        sender.signature("dashboard.notify.tasks.resend_stalled"),
        name="resend stalled notifications",
        expires=max(settings.NOTIFY_SWEEP_EVERY * 0.9, 1),
    )
