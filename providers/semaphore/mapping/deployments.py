"""Deployment targets and their history as rows (docs/providers/semaphore.md,
"Deployment targets").

Neutral ``state`` words beside Semaphore's own (``raw_state``): a target is syncing,
ready, unusable or deactivated; a deployment pending, started or failed. Semaphore's
history names who triggered a deployment by user id only (or "Pipeline Done request" for
an automatic promotion); the target's subject rules carry the ``git_login`` of the
users they name, so those become names, and any other user is "a user"."""

from __future__ import annotations

import uuid
from typing import Any

from providers.base.parse import items, obj, text, timestamp
from providers.base.records import RowRecord

TARGET_STATES = {"SYNCING": "syncing", "USABLE": "ready", "UNUSABLE": "unusable", "CORDONED": "deactivated"}
DEPLOYMENT_STATES = {"PENDING": "pending", "STARTED": "started", "FAILED": "failed"}
AUTO_PROMOTION = "Pipeline Done request"


def neutral(raw: str, words: dict[str, str]) -> str:
    return words.get(raw.upper(), "unknown") if raw else ""


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def logins_of(target: Any) -> dict[str, str]:
    """User id -> git login, from the target's USER subject rules."""
    return {
        text(obj(r).get("subject_id")): text(obj(r).get("git_login"))
        for r in items(obj(target).get("subject_rules"))
        if text(obj(r).get("type")).upper() == "USER" and obj(r).get("subject_id") and obj(r).get("git_login")
    }


def who(triggered_by: str, logins: dict[str, str]) -> str:
    """Who triggered a deployment, in words."""
    if triggered_by == AUTO_PROMOTION:
        return "auto-promotion"
    if is_uuid(triggered_by):
        return logins.get(triggered_by) or "a user"
    return triggered_by


def target_row(body: Any, project_id: str | None = None) -> RowRecord | None:
    body = obj(body)
    target_id = text(body.get("id"), 255)
    if not target_id:
        return None
    project_id = text(body.get("project_id"), 255) or project_id
    active = body.get("active")
    raw_state = text(body.get("state"), 64)
    # Hidden secret values (include_secrets) are never kept.
    kept = {k: v for k, v in body.items() if k not in ("env_vars", "files")}
    return RowRecord(
        model="deployment_target",
        external_id=target_id,
        fields={
            "name": text(body.get("name"), 255) or target_id,
            "description": text(body.get("description"), 10_000),
            "url": text(body.get("url"), 500),
            "state": neutral(raw_state, TARGET_STATES),
            "raw_state": raw_state,
            "state_message": text(body.get("state_message"), 10_000),
            "active": active if isinstance(active, bool) else True,
            "created_at": timestamp(body.get("created_at")),
            "updated_at": timestamp(body.get("updated_at")),
            "raw": kept,
        },
        refs={"project": ("project", project_id or None)},
    )


def deployment_row(body: Any, target_id: str, logins: dict[str, str]) -> RowRecord | None:
    body = obj(body)
    deployment_id = text(body.get("id"), 255)
    if not deployment_id:
        return None
    pipeline_id = text(body.get("pipeline_id"), 255)
    raw_state = text(body.get("state"), 64)
    return RowRecord(
        model="deployment",
        external_id=deployment_id,
        fields={
            "pipeline_external_id": pipeline_id,
            "triggered_by": who(text(body.get("triggered_by"), 255), logins)[:255],
            "triggered_at": timestamp(body.get("triggered_at")),
            "state": neutral(raw_state, DEPLOYMENT_STATES),
            "raw_state": raw_state,
            "state_message": text(body.get("state_message"), 10_000),
            "raw": body,
        },
        refs={"target": ("deployment_target", target_id), "build": ("build", pipeline_id or None)},
    )


def deployment_view(body: Any, logins: dict[str, str]) -> dict:
    """One history entry for the page, plain data."""
    body = obj(body)
    triggered_by = text(body.get("triggered_by"))
    raw_state = text(body.get("state"))
    return {
        "id": text(body.get("id")),
        "state": neutral(raw_state, DEPLOYMENT_STATES),
        "raw_state": raw_state,
        "state_message": text(body.get("state_message")),
        "triggered_by": who(triggered_by, logins),
        "triggered_by_id": triggered_by if is_uuid(triggered_by) else "",
        "triggered_at": timestamp(body.get("triggered_at")),
        "pipeline_id": text(body.get("pipeline_id")),
        "prev_pipeline_id": text(body.get("prev_pipeline_id")),
        "switch_id": text(body.get("switch_id")),
        "env_vars": [
            {"name": text(obj(e).get("name")), "value": text(obj(e).get("value"))} for e in items(body.get("env_vars"))
        ],
    }
