from django.db import models


class ProviderRow(models.Model):
    """A cached copy of one provider object: unique per connection and the provider's
    own id, with the raw JSON kept and a fingerprint that lets an unchanged row skip
    its write."""

    connection = models.ForeignKey("dashboard.Connection", on_delete=models.CASCADE)
    external_id = models.CharField(max_length=255)
    raw = models.JSONField(default=dict, blank=True)
    fingerprint = models.CharField(max_length=32, blank=True, editable=False)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "external_id"], name="%(app_label)s_%(class)s_unique_external_id"
            ),
        ]
