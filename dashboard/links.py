"""Permalinks: every page of a provider object is addressed by the provider kind, the
connection's slug and the provider's own id."""

from django.db import models
from django.urls import reverse

from dashboard.models import Build, Connection, DeploymentTarget, Job, Pipeline, Project, RetentionPolicy

PAGE_NAMES: dict[type[models.Model], str] = {Build: "build", Job: "job", Pipeline: "pipeline", Project: "project"}
# Objects shown in a section of their project's page.
PROJECT_SECTIONS: dict[type[models.Model], str] = {
    DeploymentTarget: "#deployment-targets",
    RetentionPolicy: "#retention",
}


def permalink(obj: models.Model) -> str:
    if isinstance(obj, Connection):
        return reverse("connection", args=[obj.kind, obj.slug])
    name = PAGE_NAMES.get(type(obj))
    connection = obj.connection
    anchor = PROJECT_SECTIONS.get(type(obj))
    if anchor and getattr(obj, "project", None) is not None:
        return reverse("project", args=[connection.kind, connection.slug, obj.project.external_id]) + anchor
    if name is None:  # objects without a page of their own live on their connection's page
        return reverse("connection", args=[connection.kind, connection.slug]) + f"#{type(obj).__name__.lower()}"
    return reverse(name, args=[connection.kind, connection.slug, obj.external_id])
