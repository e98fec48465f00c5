"""Permalinks: every page of a provider object is addressed by the provider kind, the
connection's slug and the provider's own id."""

from django.db import models
from django.urls import reverse

from dashboard.models import Build, Connection, Job, Pipeline, Project

PAGE_NAMES: dict[type[models.Model], str] = {Build: "build", Job: "job", Pipeline: "pipeline", Project: "project"}


def permalink(obj: models.Model) -> str:
    if isinstance(obj, Connection):
        return reverse("connection", args=[obj.kind, obj.slug])
    name = PAGE_NAMES.get(type(obj))
    connection = obj.connection
    if name is None:  # objects without a page of their own live on their connection's page
        return reverse("connection", args=[connection.kind, connection.slug]) + f"#{type(obj).__name__.lower()}"
    return reverse(name, args=[connection.kind, connection.slug, obj.external_id])
