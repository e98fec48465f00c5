"""Permalinks: every page of a provider object is addressed by the provider kind, the
connection's slug and the provider's own id; the models build them
(``get_absolute_url``)."""

from django.db import models


def permalink(obj: models.Model) -> str:
    return obj.get_absolute_url()
