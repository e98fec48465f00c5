"""Notifications: where to send (a channel: one Apprise URL, kept encrypted), what to send
(a rule: a scope and the events it wants) and what was sent (a delivery per event, unique
on its idempotency key so an event seen twice is sent once)."""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from dashboard.fields import EncryptedTextField

from .feeds import Scope


class NotificationChannel(models.Model):
    name = models.CharField(max_length=100)
    # Write-only: the URL holds the service's secrets (webhook tokens, passwords).
    url = EncryptedTextField(
        help_text="An Apprise URL, e.g. slack://…, workflows://… (Teams), discord://…, mailto://…, json://…"
    )
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class NotificationRule(Scope):
    """Which events of which pipelines/branches go to a channel."""

    name = models.CharField(max_length=100, blank=True)
    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="rules")
    on_break = models.BooleanField("when it breaks", default=True, help_text="A passing pipeline/branch fails.")
    on_recover = models.BooleanField("when it recovers", default=True, help_text="A failing pipeline/branch passes.")
    still_failing_hours = models.PositiveIntegerField(
        "still failing after (hours)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Once per failure streak; blank for never.",
    )
    on_missed_schedule = models.BooleanField("when a schedule misses its fire time", default=False)
    unhealthy_minutes = models.PositiveIntegerField(
        "connection unhealthy for (minutes)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Once per outage; blank for never.",
    )
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, help_text="Events from before this are not sent.")

    class Meta:
        ordering = ["channel__name", "id"]

    def __str__(self) -> str:
        return self.name or f"{self.scope_label} → {self.channel}"


class Delivery(models.Model):
    """One event for one channel, and how sending it went."""

    class Kind(models.TextChoices):
        BREAK = "break", "broke"
        RECOVER = "recover", "recovered"
        STILL_FAILING = "still_failing", "still failing"
        MISSED_SCHEDULE = "missed_schedule", "missed schedule"
        UNHEALTHY = "unhealthy", "connection unhealthy"
        TEST = "test", "test message"

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        RETRYING = "retrying", "failed, will retry"
        SENT = "sent"
        FAILED = "failed", "failed, gave up"

    key = models.CharField(max_length=255, unique=True, help_text="Idempotency key: one delivery per event and rule.")
    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="deliveries")
    rule = models.ForeignKey(NotificationRule, null=True, blank=True, on_delete=models.SET_NULL)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    title = models.CharField(max_length=255)
    body = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True, help_text="A worker is sending it until then.")
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"
