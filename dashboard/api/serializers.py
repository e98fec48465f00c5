from django.urls import reverse
from rest_framework import serializers

from dashboard.models import (
    ActionLog,
    Agent,
    AgentType,
    Build,
    Connection,
    Deployment,
    DeploymentTarget,
    Job,
    RetentionPolicy,
    Schedule,
    SyncRun,
)


class ConnectionSerializer(serializers.ModelSerializer):
    """Everything about a connection but its token, which the API never returns. Health
    is as of now (a connection whose syncs stopped finishing is "stalled")."""

    health = serializers.CharField(source="health_now.value", read_only=True)
    last_error = serializers.CharField(source="health_now.message", read_only=True)

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
        return job.get_absolute_url()

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
        return build.get_absolute_url()


class BuildDetailSerializer(BuildSerializer):
    jobs = JobSerializer(many=True, read_only=True)

    class Meta(BuildSerializer.Meta):
        fields = [*BuildSerializer.Meta.fields, "commit_message", "jobs"]


class AgentTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = AgentType
        fields = [
            "external_id",
            "name",
            "assignment_origin",
            "release_after",
            "total_agents",
            "created_at",
            "updated_at",
        ]


class AgentSerializer(serializers.ModelSerializer):
    agent_type = serializers.CharField(source="agent_type.name", default=None)

    class Meta:
        model = Agent
        fields = [
            "external_id",
            "name",
            "agent_type",
            "state",
            "version",
            "os",
            "arch",
            "hostname",
            "ip_address",
            "pid",
            "connected_at",
            "disabled_at",
        ]


class DeploymentSerializer(serializers.ModelSerializer):
    target = serializers.CharField(source="target.name")
    build_url = serializers.SerializerMethodField()

    class Meta:
        model = Deployment
        fields = [
            "external_id",
            "target",
            "pipeline_external_id",
            "build_url",
            "triggered_by",
            "triggered_at",
            "state",
            "state_message",
        ]

    def get_build_url(self, deployment: Deployment) -> str | None:
        return deployment.build.get_absolute_url() if deployment.build else None


class DeploymentTargetSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="project.name", default=None)

    class Meta:
        model = DeploymentTarget
        fields = [
            "external_id",
            "name",
            "project",
            "description",
            "url",
            "state",
            "state_message",
            "active",
            "created_at",
            "updated_at",
        ]


class RetentionPolicySerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="project.name", default=None)

    class Meta:
        model = RetentionPolicy
        fields = ["external_id", "project", "rules"]


class ScheduleSerializer(serializers.ModelSerializer):
    pipeline = serializers.CharField(source="pipeline.name", default=None)

    class Meta:
        model = Schedule
        fields = ["external_id", "name", "pipeline", "cron", "timezone", "enabled", "next_run_at", "last_run_at"]


class ActionLogSerializer(serializers.ModelSerializer):
    connection = serializers.CharField(source="connection.slug", default=None)

    class Meta:
        model = ActionLog
        fields = ["created_at", "username", "connection", "action", "target", "params", "ok", "answer"]
