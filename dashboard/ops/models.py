"""What the metrics and health checks read, written where it happens (a worker) and read
where it is asked for (the web process): so it lives in the database, not in memory."""

from django.db import models


class Heartbeat(models.Model):
    """The last time something periodic ran (``beat``: the dispatch of due syncs)."""

    name = models.CharField(max_length=32, primary_key=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"
