from typing import ClassVar

from django.db import models
from django.urls import reverse


class ProviderRow(models.Model):
    """A cached copy of one provider object: unique per connection and the provider's
    own id, with the raw JSON kept and a fingerprint that lets an unchanged row skip
    its write.

    ``gone``: the provider no longer has it (confirmed, see ``dashboard.evidence``);
    ``missing_since``/``missing_count``: the evidence gathered so far."""

    # Indexed as the first column of the unique key below: an index of its own would
    # only cost every write.
    connection = models.ForeignKey("dashboard.Connection", db_index=False, on_delete=models.CASCADE)
    external_id = models.CharField(max_length=255)
    raw = models.JSONField(default=dict, blank=True)
    fingerprint = models.CharField(max_length=32, blank=True, editable=False)
    synced_at = models.DateTimeField(auto_now=True)
    gone = models.BooleanField(default=False, help_text="The provider no longer has it.")
    missing_since = models.DateTimeField(null=True, blank=True, editable=False)
    missing_count = models.PositiveSmallIntegerField(default=0, editable=False)

    # Kept and marked when the provider no longer has it (history hangs off it);
    # otherwise deleted.
    keep_when_gone: ClassVar[bool] = False
    # The URL name of the object's own page (kind, slug, external id), if it has one.
    page_name: ClassVar[str | None] = None

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "external_id"], name="%(app_label)s_%(class)s_unique_external_id"
            ),
        ]

    def get_absolute_url(self) -> str:
        connection = self.connection
        if self.page_name:
            return reverse(self.page_name, args=[connection.kind, connection.slug, self.external_id])
        return connection.get_absolute_url() + f"#{self._meta.model_name}"

    def section_url(self, anchor: str) -> str:
        """For rows shown in a section of their project's page (or the connection's)."""
        project = getattr(self, "project", None)
        if project is not None:
            return project.get_absolute_url() + anchor
        return self.connection.get_absolute_url() + anchor
