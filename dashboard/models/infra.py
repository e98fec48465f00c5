"""What surrounds builds: self-hosted agents, deployment targets and their history,
artifact retention policies."""

from django.db import models

from .base import ProviderRow
from .builds import Build, Project


class AgentType(ProviderRow):
    """A kind of self-hosted agent (external id: its name)."""

    name = models.CharField(max_length=255)
    assignment_origin = models.CharField(max_length=64, blank=True)
    release_after = models.IntegerField(null=True, blank=True)
    total_agents = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta(ProviderRow.Meta):
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return self.connection.get_absolute_url() + "#agents"


class Agent(ProviderRow):
    """One connected self-hosted agent (external id: its name)."""

    agent_type = models.ForeignKey(AgentType, null=True, blank=True, on_delete=models.SET_NULL)
    name = models.CharField(max_length=255)
    state = models.CharField(max_length=32, blank=True, help_text="idle, busy, disabled or offline.")
    raw_state = models.CharField(max_length=64, blank=True, help_text="As the provider says it.")
    version = models.CharField(max_length=64, blank=True)
    os = models.CharField(max_length=255, blank=True)
    arch = models.CharField(max_length=64, blank=True)
    hostname = models.CharField(max_length=255, blank=True)
    ip_address = models.CharField(max_length=64, blank=True)
    pid = models.IntegerField(null=True, blank=True)
    connected_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)

    class Meta(ProviderRow.Meta):
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return self.connection.get_absolute_url() + "#agents"


class DeploymentTarget(ProviderRow):
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    state = models.CharField(max_length=32, blank=True)
    raw_state = models.CharField(max_length=64, blank=True, help_text="As the provider says it.")
    state_message = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta(ProviderRow.Meta):
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return self.section_url("#deployment-targets")


class Deployment(ProviderRow):
    """One entry of a deployment target's history."""

    target = models.ForeignKey(DeploymentTarget, db_index=False, on_delete=models.CASCADE, related_name="deployments")
    build = models.ForeignKey(Build, null=True, blank=True, on_delete=models.SET_NULL)
    pipeline_external_id = models.CharField(max_length=255, blank=True)
    triggered_by = models.CharField(max_length=255, blank=True)
    triggered_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=32, blank=True)
    raw_state = models.CharField(max_length=64, blank=True, help_text="As the provider says it.")
    state_message = models.TextField(blank=True)

    class Meta(ProviderRow.Meta):
        ordering = ["-triggered_at", "-id"]
        indexes = [
            models.Index(fields=["target", "-triggered_at"], name="deployment_recent"),
            models.Index(fields=["-triggered_at", "-id"], name="deployment_newest"),  # the deployments page
        ]

    def __str__(self) -> str:
        return f"{self.target} {self.triggered_at:%Y-%m-%d %H:%M}" if self.triggered_at else str(self.target)

    def get_absolute_url(self) -> str:
        return self.target.get_absolute_url()


class RetentionPolicy(ProviderRow):
    """A project's artifact retention rules, per level; the first matching selector wins."""

    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE)
    rules = models.JSONField(default=dict, blank=True, help_text='{"project": [...], "workflow": [...], "job": [...]}')

    def __str__(self) -> str:
        return f"retention of {self.project}"

    def get_absolute_url(self) -> str:
        return self.section_url("#retention")
