"""Sending one Delivery, exactly once as far as we can tell.

A worker claims a delivery with one conditional UPDATE (due, and not claimed by a live
worker), so two tasks for the same delivery (a re-enqueue, a redelivered message after a
restart) never both send. Failures are retried with exponential back-off until
NOTIFY_MAX_ATTEMPTS. A worker that dies while sending leaves a claim that runs out after
NOTIFY_SEND_LEASE; only then is that delivery tried again, so a message can be sent twice
only if the worker died between the service's answer and our write of it."""

from __future__ import annotations

import logging
import random
import uuid
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from dashboard.models import Delivery, NotificationChannel

from . import channels

log = logging.getLogger(__name__)


def backoff(attempts: int) -> float:
    """Seconds before try ``attempts + 1``: doubling from NOTIFY_RETRY_BACKOFF, capped,
    with a little jitter so many failed deliveries do not retry in step."""
    wait = min(settings.NOTIFY_RETRY_BACKOFF * 2 ** max(attempts - 1, 0), settings.NOTIFY_RETRY_MAX)
    return wait * random.uniform(1.0, 1.1)


def claimable(now) -> Q:
    due = Q(status__in=[Delivery.Status.PENDING, Delivery.Status.RETRYING], next_attempt_at__lte=now)
    abandoned = Q(status=Delivery.Status.SENDING, claimed_until__lt=now)
    return due | abandoned


def deliver(delivery_id: int) -> float | None:
    """Try to send one delivery if it is due. Returns the seconds to wait before the
    next try when it failed and will be retried, else None."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.NOTIFY_SEND_LEASE)
    claimed = Delivery.objects.filter(claimable(now), pk=delivery_id).update(
        status=Delivery.Status.SENDING, claimed_until=lease, attempts=F("attempts") + 1
    )
    if not claimed:
        return None  # sent already, not due yet, or another worker has it
    delivery = Delivery.objects.select_related("channel").get(pk=delivery_id)
    try:
        if not delivery.channel.enabled:
            raise channels.SendFailed("The channel is disabled.", permanent=True)
        channels.send(delivery.channel.url, delivery.title, delivery.body, delivery.kind)
    except channels.SendFailed as exc:
        return _failed(delivery, str(exc), permanent=exc.permanent)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.SENT, sent_at=timezone.now(), claimed_until=None
    )
    log.info("notification %s sent to channel %s (attempt %s)", delivery.key, delivery.channel_id, delivery.attempts)
    return None


def _failed(delivery: Delivery, error: str, *, permanent: bool) -> float | None:
    if permanent or delivery.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
        Delivery.objects.filter(pk=delivery.pk).update(
            status=Delivery.Status.FAILED, last_error=error, claimed_until=None
        )
        log.warning("notification %s gave up after %s attempt(s): %s", delivery.key, delivery.attempts, error)
        return None
    wait = backoff(delivery.attempts)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.RETRYING,
        last_error=error,
        claimed_until=None,
        next_attempt_at=timezone.now() + timedelta(seconds=wait),
    )
    log.info(
        "notification %s failed (attempt %s), retrying in %.0f s: %s", delivery.key, delivery.attempts, wait, error
    )
    return wait


def stalled() -> list[int]:
    """Deliveries due for a while that no task seems to hold: the enqueue was lost, or
    the worker that held the retry stopped."""
    cutoff = timezone.now() - timedelta(seconds=settings.NOTIFY_STALLED_AFTER)
    return list(
        Delivery.objects.filter(claimable(cutoff)).order_by("next_attempt_at").values_list("pk", flat=True)[:500]
    )


def make_test_message(channel: NotificationChannel, username: str) -> Delivery:
    return Delivery.objects.create(
        key=f"test:{channel.pk}:{uuid.uuid4().hex}",
        channel=channel,
        kind=Delivery.Kind.TEST,
        title="Test message from the CI dashboard",
        body=f"{username} sent this to check the channel “{channel.name}”. If you can read it, it works.",
    )
