"""Read-only access for things that cannot log in (build lights, tray monitors, README
badges): a FeedToken names what it may show; the token itself is kept only as a hash."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q


class Scope(models.Model):
    """What a feed token may show or a notification rule watches: a connection, a project,
    a pipeline and/or a branch; each left empty means "any"."""

    connection = models.ForeignKey("dashboard.Connection", null=True, blank=True, on_delete=models.CASCADE)
    project = models.ForeignKey("dashboard.Project", null=True, blank=True, on_delete=models.CASCADE)
    pipeline = models.ForeignKey("dashboard.Pipeline", null=True, blank=True, on_delete=models.CASCADE)
    branch = models.CharField(max_length=255, blank=True, help_text="Exact branch name; blank for every branch.")

    class Meta:
        abstract = True

    def clean(self) -> None:
        """Fill the parents of what was chosen and refuse a pipeline outside the chosen
        project or connection, so a scope never means something other than it reads."""
        super().clean()
        self.branch = self.branch.strip()
        if self.pipeline_id:
            pipeline = self.pipeline
            if self.project_id and pipeline.project_id and pipeline.project_id != self.project_id:
                raise ValidationError({"pipeline": f"The pipeline {pipeline.name} is not in project {self.project}."})
            if self.connection_id and pipeline.connection_id != self.connection_id:
                raise ValidationError(
                    {"pipeline": f"The pipeline {pipeline.name} belongs to another connection than {self.connection}."}
                )
            self.project_id = self.project_id or pipeline.project_id
            self.connection_id = pipeline.connection_id
        if self.project_id:
            project = self.project
            if self.connection_id and project.connection_id != self.connection_id:
                raise ValidationError(
                    {"project": f"The project {project.name} belongs to another connection than {self.connection}."}
                )
            self.connection_id = project.connection_id

    @property
    def scope_label(self) -> str:
        parts = [str(p) for p in (self.connection, self.project, self.pipeline) if p is not None]
        if self.branch:
            parts.append(f"branch {self.branch}")
        return " / ".join(parts) or "everything"

    def build_filter(self) -> Q:
        """The builds this scope covers."""
        q = Q()
        if self.connection_id:
            q &= Q(connection_id=self.connection_id)
        if self.pipeline_id:
            q &= Q(pipeline_id=self.pipeline_id)
        elif self.project_id:
            q &= Q(project_id=self.project_id) | Q(pipeline__project_id=self.project_id)
        if self.branch:
            q &= Q(branch=self.branch)
        return q


class FeedToken(Scope):
    name = models.CharField(max_length=100, help_text="Where it is used, e.g. 'office build light'.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters, so a person can tell tokens apart without the secret.
    prefix = models.CharField(max_length=16, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="feed_tokens"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def active(self) -> bool:
        return self.revoked_at is None
