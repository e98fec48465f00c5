"""What the metrics and health checks read, written where it happens (a worker) and read
where it is asked for (the web process): so it lives in the database, not in memory."""

from django.db import models


class Heartbeat(models.Model):
    """The last time something periodic ran (``beat``: the dispatch of due syncs)."""

    name = models.CharField(max_length=32, primary_key=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"


class SyncCounters(models.Model):
    """Running totals of one connection's syncs, for Prometheus counters and the sync
    duration histogram; they only grow, as Prometheus counters must."""

    connection = models.OneToOneField("dashboard.Connection", on_delete=models.CASCADE, primary_key=True)
    syncs = models.PositiveBigIntegerField(default=0)
    failures = models.PositiveBigIntegerField(default=0)
    partials = models.PositiveBigIntegerField(default=0)
    requests = models.PositiveBigIntegerField(default=0)
    rate_limited = models.PositiveBigIntegerField(default=0)
    lease_losses = models.PositiveBigIntegerField(default=0)
    duration_sum = models.FloatField(default=0.0)
    # Syncs per duration bucket (not cumulative), one count per bound in metrics.DURATION_BUCKETS plus +Inf.
    duration_buckets = models.JSONField(default=list)

    class Meta:
        verbose_name_plural = "sync counters"

    def __str__(self) -> str:
        return f"sync counters of {self.connection_id}"
