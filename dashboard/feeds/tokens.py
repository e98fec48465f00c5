"""Feed tokens: made once, shown once, kept as a SHA-256 hash. A token is long and random,
so a plain hash is enough (nothing to brute-force) and lets a request find its token
with one indexed lookup."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from django.utils import timezone

from dashboard.models import Connection, FeedToken, Pipeline, Project

PREFIX = "cif_"
# last_used_at is written at most this often, so a badge fetched every second costs no writes.
USE_RECORDED_EVERY = timedelta(minutes=1)


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(token: FeedToken) -> str:
    """Give an unsaved token its secret and save it; returns the secret, which is never
    available again."""
    secret = new_token()
    token.token_hash = hash_token(secret)
    token.prefix = secret[:10]
    token.save()
    return secret


def create(name: str, created_by: AbstractBaseUser | None, **scope) -> tuple[FeedToken, str]:
    """A new token for ``scope`` (connection, project, pipeline, branch) and its secret."""
    token = FeedToken(name=name, created_by=created_by, **scope)
    token.full_clean(exclude=["token_hash", "prefix"])
    return token, issue(token)


def presented(request: HttpRequest) -> str:
    """The token a client sent: ``?token=``, ``Authorization: Bearer`` (BuildNotify,
    Nevergreen) or HTTP basic auth with the token as password (CCMenu)."""
    if token := request.GET.get("token", ""):
        return token
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except ValueError:
            return ""
        return decoded.partition(":")[2]
    return ""


def authenticate(request: HttpRequest) -> FeedToken | None:
    """The active token the request carries, or None."""
    secret = presented(request)
    if not secret.startswith(PREFIX) or len(secret) > 100:
        return None
    token = (
        FeedToken.objects.select_related("connection", "project", "pipeline")
        .filter(token_hash=hash_token(secret), revoked_at__isnull=True)
        .first()
    )
    if token is not None:
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > USE_RECORDED_EVERY:
            FeedToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def allows(token: FeedToken, target: Connection | Project | Pipeline, branch: str) -> bool:
    """Whether a badge of ``target`` (on ``branch``, "" for all) lies inside the token's
    scope: the target must be the scoped object or below it, and a branch-scoped token
    shows only its branch."""
    if token.branch and branch != token.branch:
        return False
    if isinstance(target, Connection):
        connection, project, pipeline = target, None, None
    elif isinstance(target, Project):
        connection, project, pipeline = target.connection, target, None
    else:
        connection, project, pipeline = target.connection, target.project, target
    if token.connection_id and token.connection_id != connection.pk:
        return False
    if token.project_id and (project is None or token.project_id != project.pk):
        return False
    return not (token.pipeline_id and (pipeline is None or token.pipeline_id != pipeline.pk))
