from datetime import timedelta

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
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
from dashboard.overview import active_builds_by_connection
from dashboard.public_errors import answer_for, error_for
from dashboard.secrets import masked, redact, strip_url_credentials
from dashboard.templatetags.security_tags import safe_http_url

from .logs import MAX_WINDOW


def _user(serializer: serializers.Serializer):
    request = serializer.context.get("request")
    return getattr(request, "user", None)


@extend_schema_field(OpenApiTypes.DOUBLE)
class Seconds(serializers.Field):
    """A duration (``timedelta``) as seconds; null until both ends are known."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, allow_null=True, **kwargs)

    def to_representation(self, value: timedelta) -> float:
        return value.total_seconds()


class ConnectionScoped(serializers.ModelSerializer):
    """Rows of one connection name it and its provider, so lists across connections read alone."""

    provider = serializers.CharField(source="connection.kind", read_only=True)
    connection = serializers.CharField(source="connection.slug", read_only=True)


class ConnectionSerializer(serializers.ModelSerializer):
    """Everything about a connection but its token, which the API never returns; the base
    URL without credentials; health as of now (a connection whose syncs stopped finishing
    is "stalled"), its words classified for everyone but admins."""

    base_url = serializers.SerializerMethodField()
    health = serializers.CharField(source="health_now.value", read_only=True)
    last_error = serializers.SerializerMethodField()

    active_builds = serializers.SerializerMethodField(help_text="Builds queued, running or blocked now.")

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
            "active_builds",
        ]

    def get_base_url(self, connection: Connection) -> str:
        return strip_url_credentials(connection.base_url)

    def get_last_error(self, connection: Connection) -> str:
        return error_for(_user(self), connection.health_now.message)

    @extend_schema_field(OpenApiTypes.INT)
    def get_active_builds(self, connection: Connection) -> int:
        # Counted once for the whole list (one grouped query), kept in the shared context.
        counts = self.context.get("active_builds")
        if counts is None:
            counts = self.context["active_builds"] = active_builds_by_connection()
        return counts.get(connection.pk, 0)


class SyncRunSerializer(ConnectionScoped):
    error = serializers.SerializerMethodField()

    def get_error(self, run: SyncRun) -> str:
        return error_for(_user(self), run.error)

    class Meta:
        model = SyncRun
        fields = [
            "provider",
            "connection",
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
    duration = Seconds()
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
            "allowed_failure",
            "created_at",
            "started_at",
            "finished_at",
            "duration",
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
    duration = Seconds()
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
            "duration",
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


class AgentTypeSerializer(ConnectionScoped):
    connected = serializers.IntegerField(read_only=True, help_text="Agents of this type connected now.")
    busy = serializers.IntegerField(read_only=True, help_text="Of those, agents running a job.")

    class Meta:
        model = AgentType
        fields = [
            "provider",
            "connection",
            "external_id",
            "name",
            "assignment_origin",
            "release_after",
            "total_agents",
            "connected",
            "busy",
            "created_at",
            "updated_at",
        ]


class AgentSerializer(ConnectionScoped):
    agent_type = serializers.CharField(source="agent_type.name", default=None)

    class Meta:
        model = Agent
        fields = [
            "provider",
            "connection",
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


class DeploymentSerializer(ConnectionScoped):
    target = serializers.CharField(source="target.name")
    target_external_id = serializers.CharField(source="target.external_id")
    project = serializers.CharField(source="target.project.name", default=None)
    build = serializers.CharField(source="build.external_id", default=None)
    build_title = serializers.CharField(source="build.title", default=None)
    build_url = serializers.SerializerMethodField()

    class Meta:
        model = Deployment
        fields = [
            "provider",
            "connection",
            "external_id",
            "target",
            "target_external_id",
            "project",
            "pipeline_external_id",
            "build",
            "build_title",
            "build_url",
            "triggered_by",
            "triggered_at",
            "state",
            "state_message",
        ]

    def get_build_url(self, deployment: Deployment) -> str | None:
        return deployment.build.get_absolute_url() if deployment.build else None


class DeploymentTargetSerializer(ConnectionScoped):
    project = serializers.CharField(source="project.name", default=None)

    class Meta:
        model = DeploymentTarget
        fields = [
            "provider",
            "connection",
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


class RetentionPolicySerializer(ConnectionScoped):
    project = serializers.CharField(source="project.name", default=None)

    class Meta:
        model = RetentionPolicy
        fields = ["provider", "connection", "external_id", "project", "rules"]


class ScheduleSerializer(ConnectionScoped):
    project = serializers.CharField(source="project.name", default=None)
    pipeline = serializers.CharField(source="pipeline.name", default=None)

    class Meta:
        model = Schedule
        fields = [
            "provider",
            "connection",
            "external_id",
            "name",
            "project",
            "pipeline",
            "cron",
            "timezone",
            "enabled",
            "next_run_at",
            "last_run_at",
        ]


class ActionLogSerializer(serializers.ModelSerializer):
    provider = serializers.CharField(source="connection.kind", default=None)
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
        fields = ["created_at", "username", "provider", "connection", "action", "target", "params", "ok", "answer"]


class JobListSerializer(JobSerializer):
    """A job on its own, so it names its connection and its build."""

    provider = serializers.CharField(source="connection.kind")
    connection = serializers.CharField(source="connection.slug")
    build = serializers.CharField(source="build.external_id")
    build_url = serializers.SerializerMethodField()

    class Meta(JobSerializer.Meta):
        fields = ["provider", "connection", "build", *JobSerializer.Meta.fields, "build_url"]

    def get_build_url(self, job: Job) -> str:
        return reverse("api-build", args=[job.connection.kind, job.connection.slug, job.build.external_id])


class LogWindowQuery(serializers.Serializer):
    """Which bytes of a log to answer with."""

    offset = serializers.IntegerField(min_value=0, default=0, help_text="First byte to send (0: the start).")
    limit = serializers.IntegerField(
        min_value=1,
        max_value=MAX_WINDOW,
        required=False,
        help_text="How many bytes at most (up to 1 MiB); without it the rest of the log is streamed.",
    )
