"""Agent types and agents as rows (docs/providers/semaphore.md, "Self-hosted agents").

An agent's neutral ``state`` is idle, busy or disabled (a disabled agent takes no new
job and leaves); Semaphore's own word stays in ``raw_state``. The registration token
Semaphore returns when a type is created is cut out of what is kept."""

from __future__ import annotations

from typing import Any

from providers.base.parse import integer, obj, text, timestamp
from providers.base.records import RowRecord

AGENT_STATES = {"waiting_for_job": "idle", "running_job": "busy"}


def without_token(body: Any) -> dict:
    """The agent type as we keep it: the one-time registration token cut out."""
    body = dict(obj(body))
    status = dict(obj(body.get("status")))
    status.pop("registration_token", None)
    body["status"] = status
    return body


def short_origin(value: str) -> str:
    return value.removeprefix("assignment_origin_")


def agent_type_row(body: Any) -> RowRecord | None:
    body = without_token(body)
    meta = obj(body.get("metadata"))
    name = text(meta.get("name"), 255)
    if not name:
        return None
    settings = obj(obj(body.get("spec")).get("agent_name_settings"))
    return RowRecord(
        model="agent_type",
        external_id=name,
        fields={
            "name": name,
            "assignment_origin": text(settings.get("assignment_origin"), 64),
            "release_after": integer(settings.get("release_after")),
            "total_agents": integer(obj(body.get("status")).get("total_agent_count")),
            "created_at": timestamp(meta.get("create_time")),
            "updated_at": timestamp(meta.get("update_time")),
            "raw": body,
        },
    )


def agent_state(raw_state: str, disabled: bool) -> str:
    if disabled:
        return "disabled"
    return AGENT_STATES.get(raw_state.lower(), "unknown")


def agent_row(body: Any) -> RowRecord | None:
    body = obj(body)
    meta = obj(body.get("metadata"))
    name = text(meta.get("name"), 255)
    if not name:
        return None
    type_name = text(meta.get("type"), 255)
    raw_state = text(obj(body.get("status")).get("state"), 64)
    disabled_at = timestamp(meta.get("disabled_at"))
    return RowRecord(
        model="agent",
        external_id=name,
        fields={
            "name": name,
            "state": agent_state(raw_state, disabled_at is not None),
            "raw_state": raw_state,
            "version": text(meta.get("version"), 64),
            "os": text(meta.get("os"), 255),
            "arch": text(meta.get("arch"), 64),
            "hostname": text(meta.get("hostname"), 255),
            "ip_address": text(meta.get("ip_address"), 64),
            "pid": integer(meta.get("pid")),
            "connected_at": timestamp(meta.get("connected_at")),
            "disabled_at": disabled_at,
            "raw": body,
        },
        refs={"agent_type": ("agent_type", type_name or None)},
    )
