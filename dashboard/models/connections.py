from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from dashboard.fields import EncryptedTextField
from providers.registry import LABELS


class Health(models.TextChoices):
    UNKNOWN = "unknown", "not synced yet"
    OK = "ok", "ok"
    DEGRADED = "degraded", "degraded"
    AUTH_FAILED = "auth_failed", "auth failed"
    UNREACHABLE = "unreachable", "unreachable"
    # No sync finished for several intervals, or one ran past its time limit.
    STALLED = "stalled", "stalled"


@dataclass(frozen=True)
class HealthNow:
    """A connection's health as of now: the last sync's verdict, unless syncs stopped
    finishing (then "stalled")."""

    value: str
    label: str
    message: str


class Connection(models.Model):
    """One account at one CI provider: where it is, how to authenticate, how often to
    sync, and how the last sync went."""

    # Choices live in the forms (from the registry), so adding a provider needs no migration.
    kind = models.CharField(max_length=32)
    name = models.CharField(max_length=100)
    slug = models.SlugField(
        max_length=60,
        unique=True,
        help_text="Part of every link to this connection's pages; keep it stable.",
    )
    base_url = models.URLField(max_length=500, help_text="The provider's API root, e.g. https://acme.semaphoreci.com")
    token = EncryptedTextField(blank=True)
    options = models.JSONField(
        default=dict,
        blank=True,
        help_text="Provider-specific settings (for example project ids to sync).",
    )
    sync_interval = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(2)], help_text="Seconds between syncs."
    )
    enabled = models.BooleanField(default=True)

    health = models.CharField(max_length=16, choices=Health.choices, default=Health.UNKNOWN)
    last_error = models.TextField(blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    next_sync_at = models.DateTimeField(default=timezone.now)
    sync_cursor = models.JSONField(default=dict, blank=True, editable=False)
    lock_owner = models.CharField(max_length=64, blank=True, editable=False)
    lock_until = models.DateTimeField(null=True, blank=True, editable=False)
    # Syncs in a row that ended unreachable, timed out or rate limited: the next one waits longer.
    failures = models.PositiveSmallIntegerField(default=0, editable=False)
    # Running totals of every finished sync (the Prometheus counters and sync duration
    # histogram of dashboard/ops/metrics.py; they only grow). They are written with the
    # sync's own bookkeeping on this row, and only syncs that wrote or found something
    # keep a SyncRun row (the last SYNC_RUNS_KEPT of them): a quiet sync writes one row.
    sync_count = models.PositiveIntegerField(default=0, editable=False)
    sync_requests = models.PositiveBigIntegerField(default=0, editable=False)
    sync_failures = models.PositiveBigIntegerField(default=0, editable=False)
    sync_partials = models.PositiveBigIntegerField(default=0, editable=False)
    sync_rate_limited = models.PositiveBigIntegerField(default=0, editable=False)
    sync_lease_losses = models.PositiveBigIntegerField(default=0, editable=False)
    sync_seconds = models.FloatField(default=0.0, editable=False)
    # Syncs per duration bucket (not cumulative): one count per bound in
    # ops.metrics.DURATION_BUCKETS, then +Inf.
    sync_duration_buckets = models.JSONField(default=list, editable=False)
    # When the sync now queued or running fell due, and how late the last one started.
    due_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_sync_lag = models.FloatField(null=True, blank=True, editable=False, help_text="Seconds.")
    created_at = models.DateTimeField(auto_now_add=True)
    # Bumped (in the database only) when a sync or an action commits changed rows; live
    # pages compare it to learn cheaply whether to render again (dashboard/freshness.py).
    revision = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["enabled", "next_sync_at"])]

    def __str__(self) -> str:
        return self.name

    # Written only by syncs and actions, by UPDATE: never by saving a whole copy.
    SYNC_WRITTEN = (
        "revision",
        "sync_count",
        "sync_requests",
        "sync_failures",
        "sync_partials",
        "sync_rate_limited",
        "sync_lease_losses",
        "sync_seconds",
        "sync_duration_buckets",
    )

    def save(self, *args, **kwargs) -> None:
        # A copy read before a sync (an admin's form, say) must not write old totals or an
        # old revision back.
        if not self._state.adding and kwargs.get("update_fields") is None and not kwargs.get("force_insert"):
            kwargs["update_fields"] = [
                f.name for f in self._meta.concrete_fields if not f.primary_key and f.name not in self.SYNC_WRITTEN
            ]
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("connection", args=[self.kind, self.slug])

    @property
    def kind_label(self) -> str:
        return LABELS.get(self.kind, self.kind)

    # What ``health_now`` reads: load these when listing connections with ``only()``.
    HEALTH_FIELDS = ("health", "last_error", "last_synced_at", "next_sync_at", "sync_interval", "enabled", "created_at")

    @property
    def health_now(self) -> HealthNow:
        """Stalled when no sync finished for ``SYNC_STALLED_INTERVALS`` intervals (or its
        time limit, if longer), unless the provider asked us to wait that long."""
        now = timezone.now()
        since = self.last_synced_at or self.created_at
        allowed = timedelta(
            seconds=max(
                settings.SYNC_STALLED_INTERVALS * self.sync_interval, settings.SYNC_TIME_LIMIT + self.sync_interval
            )
        )
        asked_to_wait = self.next_sync_at and self.next_sync_at - now > timedelta(seconds=self.sync_interval)
        if self.enabled and since and now - since > allowed and not asked_to_wait:
            when = "no sync has finished yet" if self.last_synced_at is None else "no sync has finished"
            ago = int((now - since).total_seconds())
            message = f"Stalled: {when} for {ago} s (are the workers running?)"
            if self.last_error:
                message += f" Last error: {self.last_error}"
            return HealthNow(Health.STALLED, Health.STALLED.label, message)
        return HealthNow(self.health, self.get_health_display(), self.last_error)
