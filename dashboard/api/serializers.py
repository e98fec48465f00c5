from django.urls import reverse
from rest_framework import serializers

from dashboard.models import Build, Connection, Job, SyncRun


class ConnectionSerializer(serializers.ModelSerializer):
    """Everything about a connection but its token, which the API never returns."""

    class Meta:
        model = Connection
        fields = [
            "kind",
            "name",
            "slug",
            "base_url",
            "sync_interval",
            "enabled",
            "health",
            "last_error",
            "last_synced_at",
        ]


class SyncRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = SyncRun
        fields = [
            "started_at",
            "finished_at",
            "status",
            "requests",
            "created",
            "updated",
            "unchanged",
            "duration",
            "error",
        ]


class JobSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    log_url = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "external_id",
            "name",
            "group",
            "state",
            "raw_state",
            "exit_code",
            "created_at",
            "started_at",
            "finished_at",
            "depends_on",
            "url",
            "log_url",
        ]

    def _permalink_args(self, job: Job) -> list:
        return [job.connection.kind, job.connection.slug, job.external_id]

    def get_url(self, job: Job) -> str:
        return reverse("job", args=self._permalink_args(job))

    def get_log_url(self, job: Job) -> str:
        return reverse("api-job-log", args=self._permalink_args(job))


class BuildSerializer(serializers.ModelSerializer):
    provider = serializers.CharField(source="connection.kind")
    connection = serializers.CharField(source="connection.slug")
    project = serializers.CharField(source="project.name", default=None)
    pipeline = serializers.CharField(source="pipeline.name", default=None)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Build
        fields = [
            "provider",
            "connection",
            "external_id",
            "project",
            "pipeline",
            "number",
            "title",
            "group_id",
            "branch",
            "commit_sha",
            "triggered_by",
            "state",
            "raw_state",
            "created_at",
            "started_at",
            "finished_at",
            "web_url",
            "gone",
            "url",
        ]

    def get_url(self, build: Build) -> str:
        return reverse("build", args=[build.connection.kind, build.connection.slug, build.external_id])


class BuildDetailSerializer(BuildSerializer):
    jobs = JobSerializer(many=True, read_only=True)

    class Meta(BuildSerializer.Meta):
        fields = [*BuildSerializer.Meta.fields, "commit_message", "jobs"]
