from django.shortcuts import get_object_or_404

from dashboard.models import Build, Connection, Job


def connection_or_404(kind: str, slug: str) -> Connection:
    return get_object_or_404(Connection, kind=kind, slug=slug)


def build_or_404(kind: str, slug: str, external_id: str) -> Build:
    return get_object_or_404(
        Build.objects.select_related("connection", "project", "pipeline"),
        connection__kind=kind,
        connection__slug=slug,
        external_id=external_id,
    )


def job_or_404(kind: str, slug: str, external_id: str) -> Job:
    return get_object_or_404(
        Job.objects.select_related("connection", "build", "build__project", "build__pipeline"),
        connection__kind=kind,
        connection__slug=slug,
        external_id=external_id,
    )
