"""Deployment targets and their history (docs/providers/semaphore.md, "Deployment
targets"). Every write carries a ``unique_token`` (a UUID), which makes it idempotent at
Semaphore, so these writes are retried like reads."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from providers.base.parse import integer, obj, text

V1 = "/api/v1alpha"
HISTORY_FILTERS = ("git_ref_type", "git_ref_label", "triggered_by", "parameter1", "parameter2", "parameter3")


@dataclass
class HistoryPage:
    """One page of a target's history, newest first; a cursor of 0 means "none that way"."""

    deployments: list[dict]
    cursor_before: int
    cursor_after: int


def encoded_files(files: list[tuple[str, str | bytes]]) -> list[dict]:
    return [
        {"path": path, "content": base64.b64encode(content.encode() if isinstance(content, str) else content).decode()}
        for path, content in files
    ]


def _id(target_id: str) -> str:
    return quote(target_id, safe="")


class DeploymentCalls:
    def deployment_targets(self, project_id: str) -> list[dict]:
        body = self.get_json(f"{V1}/deployment_targets", params={"project_id": project_id})
        return [t if isinstance(t, dict) else {} for t in self.expect(body, list, "the targets list")]

    def deployment_target(self, target_id: str, *, include_secrets: bool = False) -> dict:
        """With ``include_secrets`` Semaphore adds env vars and files whose values are
        hidden (an MD5 of each); sending such a value back on update keeps the old one."""
        params = {"include_secrets": "true"} if include_secrets else None
        return self.expect(
            self.get_json(f"{V1}/deployment_targets/{_id(target_id)}", params=params), dict, "the target"
        )

    def create_deployment_target(self, project_id: str, fields: dict, *, unique_token: str) -> dict:
        """``fields`` as Semaphore takes them (``files`` already base64-encoded)."""
        payload = {**fields, "project_id": project_id, "unique_token": unique_token}
        response = self.request(
            "POST", f"{V1}/deployment_targets", params={"project_id": project_id}, json=payload, idempotent=True
        )
        return self.expect(self.parse_json(response), dict, "the created target")

    def update_deployment_target(self, target_id: str, fields: dict, *, unique_token: str) -> dict:
        """Only the ``fields`` given change; Semaphore keeps every field left out."""
        payload = {**fields, "unique_token": unique_token}
        response = self.request("PATCH", f"{V1}/deployment_targets/{_id(target_id)}", json=payload, idempotent=True)
        return self.expect(self.parse_json(response), dict, "the target")

    def delete_deployment_target(self, target_id: str, unique_token: str) -> str:
        response = self.request(
            "DELETE", f"{V1}/deployment_targets/{_id(target_id)}", params={"unique_token": unique_token}
        )
        return text(obj(self.parse_json(response)).get("target_id")) or target_id

    def _cordon(self, target_id: str, verb: str) -> bool:
        response = self.request("PATCH", f"{V1}/deployment_targets/{_id(target_id)}/{verb}", idempotent=True)
        body = self.expect(self.parse_json(response), dict, f"the {verb} answer")
        return bool(body.get("cordoned"))

    def activate_deployment_target(self, target_id: str) -> bool:
        """Returns ``cordoned`` as Semaphore answers it (False once active)."""
        return self._cordon(target_id, "activate")

    def deactivate_deployment_target(self, target_id: str) -> bool:
        return self._cordon(target_id, "deactivate")

    def deployment_history(
        self, target_id: str, *, cursor_type: str = "FIRST", cursor_value: int | None = None, **filters: Any
    ) -> HistoryPage:
        """At most 10 deployments, newest first. Filters: ``git_ref_type``,
        ``git_ref_label``, ``triggered_by`` (exact), ``parameter1..3`` (a regular
        expression, a ``*`` pattern or an exact value)."""
        params: dict[str, Any] = {"cursor_type": cursor_type}
        if cursor_value is not None and cursor_type != "FIRST":
            params["cursor_value"] = int(cursor_value)
        params.update({k: v for k, v in filters.items() if k in HISTORY_FILTERS and v})
        body = self.get_json(f"{V1}/deployment_targets/{_id(target_id)}/history", params=params)
        return HistoryPage(
            deployments=self.listed(body, "deployments", "deployment history"),
            cursor_before=integer(obj(body).get("cursor_before")) or 0,
            cursor_after=integer(obj(body).get("cursor_after")) or 0,
        )
