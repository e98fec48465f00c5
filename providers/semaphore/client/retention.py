"""Artifact retention policies (docs/providers/semaphore.md, "Artifact retention")."""

from __future__ import annotations

from typing import Any

V1 = "/api/v1alpha"
LEVELS = ("project", "workflow", "job")
API_FIELDS = {level: f"{level}_level_retention_policies" for level in LEVELS}


class RetentionCalls:
    def retention_policy(self, project_id: str) -> dict:
        body = self.get_json(f"{V1}/artifacts_retention_policies/{project_id}")
        return self.expect(body, dict, "the retention policy")

    def configure_retention_policy(self, project_id: str, rules: dict[str, list[dict]]) -> dict:
        """Replace the project's policy; ``rules`` maps "project"/"workflow"/"job" to
        ``[{"selector", "age"}]``. Sending the same policy twice is harmless, so it is retried."""
        payload: dict[str, Any] = {"project_id": project_id}
        payload.update({API_FIELDS[level]: list(rules.get(level) or []) for level in LEVELS})
        response = self.request("POST", f"{V1}/artifacts_retention_policies", json=payload, idempotent=True)
        return self.expect(self.parse_json(response), dict, "the retention policy")
