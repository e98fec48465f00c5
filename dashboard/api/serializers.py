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
from dashboard.public_errors import answer_for, error_for
from dashboard.secrets import masked, redact, strip_url_credentials
from dashboard.templatetags.security_tags import safe_http_url


def _user(serializer: serializers.Serializer):
    request = serializer.context.get("request")
    return getattr(request, "user", None)


class ConnectionSerializer(serializers.ModelSerializer):
    """Everything about a connection but its token, which the API never returns; the base
    URL without credentials; health as of now (a connection whose syncs stopped finishing
    is "stalled"), its words classified for everyone but admins."""

    base_url = serializers.SerializerMethodField()
    health = serializers.CharField(source="health_now.value", read_only=True)
    last_error = serializers.SerializerMethodField()

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

    def get_base_url(self, connection: Connection) -> str:
        return strip_url_credentials(connection.base_url)

    def get_last_error(self, connection: Connection) -> str:
        return error_for(_user(self), connection.health_now.message)


class SyncRunSerializer(serializers.ModelSerializer):
    error = serializers.SerializerMethodField()

    def get_error(self, run: SyncRun) -> str:
        return error_for(_user(self), run.error)

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
    web_url = serializers.SerializerMethodField()

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

    def get_web_url(self, build: Build) -> str:
        return safe_http_url(build.web_url)

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
    params = serializers.SerializerMethodField()
    answer = serializers.SerializerMethodField()

    def get_params(self, entry: ActionLog) -> dict:
        return masked(entry.params)

    def get_answer(self, entry: ActionLog) -> str:
        if entry.ok:
            return redact(entry.answer)
        return answer_for(_user(self), entry.answer)

    class Meta:
        model = ActionLog
        fields = ["created_at", "username", "connection", "action", "target", "params", "ok", "answer"]
