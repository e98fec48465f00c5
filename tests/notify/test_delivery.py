"""Sending a delivery: retries with growing waits, giving up, one sender at a time, and
errors kept without the channel's secrets."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.models import Delivery, NotificationChannel
from dashboard.notify import channels
from dashboard.notify.delivery import backoff, deliver, make_test_message, stalled


@pytest.fixture
def channel(db, receiver):
    # A webhook whose path and password are its secrets.
    url = f"json://hook:pa55-word-9@127.0.0.1:{receiver.port}/hooks/T0KEN-abc123?secret=qwertyuiop"
    return NotificationChannel.objects.create(name="ops", url=url)


def due_now(delivery: Delivery) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def test_a_refused_message_is_retried_with_growing_waits_until_it_gets_through(channel, receiver, settings):
    settings.NOTIFY_RETRY_BACKOFF = 10
    receiver.refuse = 2
    delivery = make_test_message(channel, "ada")

    waits = []
    for _ in range(2):
        waits.append(deliver(delivery.pk))
        delivery.refresh_from_db()
        assert delivery.status == Delivery.Status.RETRYING
        assert deliver(delivery.pk) is None, "not due yet: nothing is sent"
        due_now(delivery)
    assert deliver(delivery.pk) is None

    delivery.refresh_from_db()
    assert 10 <= waits[0] <= 11 and 20 <= waits[1] <= 22
    assert (delivery.status, delivery.attempts) == (Delivery.Status.SENT, 3)
    assert len(receiver.refused) == 2 and len(receiver.messages) == 1
    assert receiver.messages[0]["title"] == "Test message from the CI dashboard"
    assert "503" in delivery.last_error


def test_after_the_last_attempt_it_gives_up_and_keeps_the_error_without_secrets(channel, receiver, settings):
    settings.NOTIFY_MAX_ATTEMPTS = 2
    receiver.refuse = -1
    delivery = make_test_message(channel, "ada")
    assert deliver(delivery.pk) is not None
    due_now(delivery)
    assert deliver(delivery.pk) is None

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Delivery.Status.FAILED, 2)
    assert delivery.last_error
    for secret in ("pa55-word-9", "T0KEN-abc123", "qwertyuiop", channel.url):
        assert secret not in delivery.last_error
    due_now(delivery)
    assert deliver(delivery.pk) is None and len(receiver.refused) == 2, "a failed delivery is not retried alone"


def test_a_delivery_claimed_by_a_live_worker_is_not_sent_again(channel, receiver):
    delivery = make_test_message(channel, "ada")
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.SENDING, claimed_until=timezone.now() + timedelta(minutes=2)
    )
    assert deliver(delivery.pk) is None and receiver.messages == []
    assert stalled() == []

    # The worker died while sending: its claim runs out and the delivery is picked up again.
    Delivery.objects.filter(pk=delivery.pk).update(claimed_until=timezone.now() - timedelta(minutes=5))
    assert stalled() == [delivery.pk]
    deliver(delivery.pk)
    assert len(receiver.messages) == 1
    assert deliver(delivery.pk) is None and len(receiver.messages) == 1, "sent is final"


def test_a_disabled_channel_or_unusable_url_fails_at_once(channel, receiver):
    channel.enabled = False
    channel.save()
    delivery = make_test_message(channel, "ada")
    deliver(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error) == (Delivery.Status.FAILED, "The channel is disabled.")

    with pytest.raises(channels.SendFailed) as failed:
        channels.send("slack://not-enough-tokens", "t", "b")
    assert failed.value.permanent and "not-enough-tokens" not in str(failed.value)


def test_backoff_doubles_and_is_capped(settings):
    settings.NOTIFY_RETRY_BACKOFF, settings.NOTIFY_RETRY_MAX = 30, 3600
    for attempts, wait in [(1, 30), (2, 60), (3, 120), (4, 240)]:
        assert wait <= backoff(attempts) <= wait * 1.1
    assert 3600 <= backoff(30) <= 3960


@pytest.mark.parametrize(
    "url, secrets",
    [
        ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general", ["T1JJ3T3L2", "TIiajkdnlazkcOXrIdevi7FQ"]),
        ("discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js", ["4174216298", "JHMHI8qBe7bk2ZwO5U711o3dV_js"]),
        ("mailto://user:app-password@gmail.com", ["app-password"]),
        (
            "workflows://prod-01.westeurope.logic.azure.com:443/wfID123abc/sigQ9x8y7z?api-version=1",
            ["wfID123abc", "sigQ9x8y7z"],
        ),
    ],
)
def test_redaction_removes_every_credential_part(url, secrets):
    text = f"could not reach {url}: " + " ".join(secrets)
    redacted = channels.redact(text, url)
    assert all(secret not in redacted for secret in secrets), redacted
