"""Artifact retention policies as rows (docs/providers/semaphore.md, "Artifact
retention"): one policy per project (its external id is the project's), rules per level
in order; a project without a policy has no rules (artifacts are kept forever)."""

from __future__ import annotations

from typing import Any

from providers.base.parse import items, obj, text
from providers.base.records import RowRecord

LEVELS = ("project", "workflow", "job")
API_FIELDS = {level: f"{level}_level_retention_policies" for level in LEVELS}


def policy_rules(body: Any) -> dict[str, list[dict]]:
    body = obj(body)
    return {
        level: [
            {"selector": text(obj(r).get("selector")), "age": text(obj(r).get("age"))}
            for r in items(body.get(API_FIELDS[level]))
        ]
        for level in LEVELS
    }


def policy_row(project_id: str, body: Any) -> RowRecord:
    return RowRecord(
        model="retention_policy",
        external_id=project_id,
        fields={"rules": policy_rules(body), "raw": obj(body)},
        refs={"project": ("project", project_id)},
    )
