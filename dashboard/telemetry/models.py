from django.db import models


class TraceExport(models.Model):
    """A finished build's trace: claimed by one worker at a time (a lease), and marked
    sent once the collector accepted it, so each build is exported once."""

    build = models.OneToOneField("dashboard.Build", on_delete=models.CASCADE, primary_key=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    exported_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"trace of build {self.build_id}"
