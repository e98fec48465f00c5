"""Credentials the dashboard hands out: per-user API tokens and share links. Only a
SHA-256 digest of each secret is stored, so a database dump gives none of them away; the
secret itself is shown once, when it is made."""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiToken(models.Model):
    """A person's token for scripts: ``Authorization: Bearer <token>`` acts as that person."""

    PREFIX = "cid_"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What it is for, e.g. the script that uses it.")
    prefix = models.CharField(max_length=16, help_text="The first characters, to tell tokens apart.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, user, name: str) -> tuple["ApiToken", str]:
        """A new token for ``user``; the secret is returned here and never again."""
        secret = cls.PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, prefix=secret[:12], digest=digest(secret))
        return token, secret

    @classmethod
    def find(cls, secret: str) -> "ApiToken | None":
        if not secret.startswith(cls.PREFIX):
            return None
        return cls.objects.select_related("user").filter(digest=digest(secret)).first()


class ShareLink(models.Model):
    """An opaque link that shows one build or job to anyone holding it, until it expires
    or is revoked."""

    build = models.ForeignKey("dashboard.Build", null=True, blank=True, on_delete=models.CASCADE)
    job = models.ForeignKey("dashboard.Job", null=True, blank=True, on_delete=models.CASCADE)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=16)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(build__isnull=False, job__isnull=True)
                | models.Q(build__isnull=True, job__isnull=False),
                name="sharelink_one_target",
            )
        ]

    def __str__(self) -> str:
        return f"share link {self.prefix}… to {self.target}"

    @property
    def target(self):
        return self.job if self.job_id else self.build

    @property
    def active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()

    @classmethod
    def issue(cls, target, user, expires_at) -> tuple["ShareLink", str]:
        from dashboard.models import Job

        secret = secrets.token_urlsafe(32)
        field = "job" if isinstance(target, Job) else "build"
        link = cls.objects.create(
            **{field: target}, created_by=user, expires_at=expires_at, digest=digest(secret), prefix=secret[:8]
        )
        return link, secret

    @classmethod
    def find(cls, secret: str) -> "ShareLink | None":
        """The active link for ``secret``, or None (unknown, expired and revoked look alike)."""
        link = (
            cls.objects.select_related("build__connection", "build__project", "job__connection", "job__build")
            .filter(digest=digest(secret), revoked_at__isnull=True, expires_at__gt=timezone.now())
            .first()
        )
        return link
