from django.conf import settings
from django.db import models
from django.utils import timezone


class SyncRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        OK = "ok"
        PARTIAL = "partial", "partial (some parts failed)"
        FAILED = "failed"
        INTERRUPTED = "interrupted", "interrupted (worker stopped)"

    connection = models.ForeignKey(
        "dashboard.Connection", db_index=False, on_delete=models.CASCADE, related_name="sync_runs"
    )
    # Set when the sync begins: a run is saved only at its end (auto_now_add would stamp that).
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    requests = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["connection", "-started_at"], name="syncrun_recent")]

    def __str__(self) -> str:
        return f"{self.connection} sync at {self.started_at:%Y-%m-%d %H:%M:%S}"


class ActionLog(models.Model):
    """Who pressed which button, with what, and what the provider answered."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    username = models.CharField(max_length=150)
    connection = models.ForeignKey("dashboard.Connection", null=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=500, help_text="Provider id of what was acted on.")
    params = models.JSONField(default=dict, blank=True)
    ok = models.BooleanField(default=False)
    answer = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["-created_at", "-id"], name="actionlog_recent")]  # the activity page
        permissions = [("operate", "Can press action buttons (rerun, stop, promote, ...)")]

    def __str__(self) -> str:
        return f"{self.username} {self.action} {self.target}"
