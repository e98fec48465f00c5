"""Thin Celery tasks: the work lives in dashboard.notify.delivery."""

import logging

from celery import shared_task

from . import delivery

log = logging.getLogger(__name__)


@shared_task(bind=True, name="dashboard.notify.tasks.send_delivery", max_retries=None)
def send_delivery(self, delivery_id: int) -> None:
    wait = delivery.deliver(delivery_id)
    if wait is not None:
        raise self.retry(countdown=wait)


@shared_task(name="dashboard.notify.tasks.resend_stalled")
def resend_stalled() -> list[int]:
    ids = delivery.stalled()
    for delivery_id in ids:
        send_delivery.delay(delivery_id)
    return ids


def enqueue(delivery_id: int) -> None:
    """Queue a send; if the broker is down, the periodic resend_stalled picks it up."""
    try:
        send_delivery.delay(delivery_id)
    except Exception:
        log.exception("could not queue notification %s; it will be resent later", delivery_id)
