"""A job as the page shows it, from either jobs API shape (docs/providers/semaphore.md,
"Jobs (v1alpha)" and "Jobs (v2)"): agent, env vars, secrets by name, commands,
epilogues, time limit, who created it, where it belongs and the status timeline. Plain
data only: the API serves it as JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from providers.base.parse import items, obj, text, timestamp

V2_STEPS = (
    ("created", "created_at"),
    ("enqueued", "enqueued_at"),
    ("scheduled", "scheduled_at"),
    ("started", "started_at"),
    ("finished", "finished_at"),
)
V1_STEPS = (("created", "create_time"), ("started", "start_time"), ("finished", "finish_time"))


def timeline(detail: dict) -> dict[str, datetime]:
    """The job's moments by name. A creation time later than the start is Semaphore's
    clock, not the job's: the job cannot have been created after it started."""
    meta, status = obj(detail.get("metadata")), obj(detail.get("status"))
    steps = obj(status.get("timeline"))
    if steps:  # v2
        found = {label: timestamp(steps.get(key)) for label, key in V2_STEPS}
    else:  # v1alpha
        found = {label: timestamp(meta.get(key)) for label, key in V1_STEPS}
    moments = {label: when for label, when in found.items() if when}
    started = moments.get("started")
    if started and moments.get("created") and moments["created"] > started:
        moments["created"] = started
    return moments


def _ref(value: Any) -> dict[str, str]:
    value = obj(value)
    return {"id": text(value.get("id")), "name": text(value.get("name"))}


def _actor(value: Any) -> dict[str, str]:
    value = obj(value)
    return {"id": text(value.get("id")), "type": text(value.get("type"))}


def job_view(detail: Any) -> dict | None:
    """One reading of a v1alpha or v2 job for the page; odd fields read as empty."""
    if not isinstance(detail, dict):
        return None
    meta, spec, status = obj(detail.get("metadata")), obj(detail.get("spec")), obj(detail.get("status"))
    agent = obj(spec.get("agent"))
    machine = obj(agent.get("machine"))
    status_agent = obj(status.get("agent"))
    ports = items(agent.get("ports")) or items(status_agent.get("ports"))
    meta_times = obj(meta.get("timeline"))
    limit = spec.get("execution_time_limit")
    epilogues = [
        (when, [text(c, 5000) for c in items(spec.get(key))])
        for when, key in (
            ("always", "epilogue_always_commands"),
            ("on pass", "epilogue_on_pass_commands"),
            ("on fail", "epilogue_on_fail_commands"),
            ("epilogue", "epilogue_commands"),
        )
    ]
    moments = timeline(detail)
    order = [label for label, _ in V2_STEPS]
    return {
        "id": text(meta.get("id")),
        "name": text(meta.get("name")),
        "api": "v2" if obj(status.get("timeline")) or meta_times else "v1alpha",
        "organization": _ref(meta.get("organization")),
        "project": _ref(meta.get("project"))
        if meta.get("project")
        else {"id": text(spec.get("project_id")), "name": ""},
        "workflow": _ref(meta.get("workflow")),
        "pipeline": _ref(meta.get("pipeline")),
        "created_by": _actor(meta_times.get("created_by")),
        "updated_by": _actor(meta_times.get("updated_by")),
        "machine_type": text(machine.get("type")),
        "os_image": text(machine.get("os_image")),
        "containers": [
            {"name": text(obj(c).get("name")), "image": text(obj(c).get("image"))}
            for c in items(agent.get("containers"))
        ],
        "ports": [{"name": text(obj(p).get("name")), "number": text(obj(p).get("number"))} for p in ports],
        "agent_name": text(status_agent.get("name")),
        "agent_ip": text(status_agent.get("ip")),
        "env_vars": [
            {"name": text(obj(e).get("name")), "value": text(obj(e).get("value"), 2000)}
            for e in items(spec.get("env_vars"))
        ],
        "secrets": [text(obj(s).get("name")) for s in items(spec.get("secrets"))],
        "commands": [text(c, 5000) for c in items(spec.get("commands"))],
        "epilogues": [(when, commands) for when, commands in epilogues if commands],
        "time_limit": limit if isinstance(limit, int) and not isinstance(limit, bool) else None,
        "timeline": sorted(moments.items(), key=lambda step: order.index(step[0])),
        "state": text(status.get("state")),
        "result": text(status.get("result")),
    }


def is_phantom(detail: Any) -> bool:
    """A listed job that cannot exist: no id, never created, or finished without a
    finish time. Semaphore creates a job only when its block is scheduled; a client must
    not show what a server invented."""
    view = job_view(detail)
    if view is None or not view["id"]:
        return True
    moments = dict(view["timeline"])
    if "created" not in moments:
        return True
    return view["state"].upper() == "FINISHED" and "finished" not in moments


def active_job_row(detail: dict) -> dict:
    return job_view(detail) or {}
