"""Semaphore's HTTP API (v1alpha): ``Authorization: Token``, the documented User-Agent,
``link``-header paging, and error bodies that may be plain text, a JSON string, or
grpc-gateway's ``{"code", "message"}``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from providers.base.client import BaseClient
from providers.base.errors import AuthError, PermissionDenied, ProviderError

from .agents import AgentsClientMixin
from .deployments import DeploymentsClientMixin
from .jobs import JobsClientMixin
from .retention import RetentionClientMixin
from .workflows import WorkflowsClientMixin

V1 = "/api/v1alpha"


class SemaphoreClient(
    WorkflowsClientMixin, JobsClientMixin, AgentsClientMixin, DeploymentsClientMixin, RetentionClientMixin, BaseClient
):
    user_agent = "SemaphoreCI v2.0 Client"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}

    def error_message(self, response: httpx.Response) -> str:
        body = response.text.strip()
        try:
            parsed = json.loads(body)
        except ValueError:
            return body or response.reason_phrase
        if isinstance(parsed, str):
            return parsed
        if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
            # v2's 422 puts the reasons in JSON:API-style "errors".
            details = [e.get("detail") for e in parsed.get("errors") or [] if isinstance(e, dict) and e.get("detail")]
            return f"{parsed['message']}: {'; '.join(map(str, details))}" if details else parsed["message"]
        return body[:300]

    def error_for(self, response: httpx.Response) -> ProviderError:
        # Logs, agents and deployment targets answer 401 "Permission denied" for a
        # project the token may see but not use: that is not a bad token.
        if response.status_code == 401 and "permission denied" in response.text.lower():
            return PermissionDenied(
                "Semaphore says: Permission denied for this project.", status=401, body=response.text
            )
        if response.status_code == 401:
            return AuthError("Semaphore refused the API token (401 Unauthorized).", status=401, body=response.text)
        return super().error_for(response)

    # Paging ------------------------------------------------------------------------------
    def page(self, path: str, params: dict[str, Any]) -> tuple[list, bool]:
        """One page and whether another follows."""
        response = self.get(path, params=params)
        items = self.expect(self.parse_json(response), list, "the list body")
        return items, "next" in response.links

    # Resources ----------------------------------------------------------------------------
    def projects(self) -> Iterator[dict]:
        page = 1
        while True:
            response = self.get(f"{V1}/projects", params={"page": page})
            items = self.expect(self.parse_json(response), list, "the projects list")
            yield from items
            if response.headers.get("x-has-more", "").lower() != "true" or not items:
                return
            page += 1

    def pipelines(self, project_id: str, *, page: int = 1, page_size: int = 30, **filters: Any) -> tuple[list, bool]:
        params = {"project_id": project_id, "page": page, "page_size": page_size}
        params.update({k: v for k, v in filters.items() if v not in (None, "")})
        return self.page(f"{V1}/pipelines", params)

    def pipeline(self, ppl_id: str, detailed: bool = True) -> dict:
        body = self.get_json(f"{V1}/pipelines/{ppl_id}", params={"detailed": str(detailed).lower()})
        return self.expect(body, dict, "the pipeline")

    def topology(self, ppl_id: str) -> list:
        return self.expect(self.get_json(f"{V1}/pipelines/{ppl_id}/describe_topology"), list, "the topology")

    def job(self, job_id: str) -> dict:
        return self.expect(self.get_json(f"{V1}/jobs/{job_id}"), dict, "the job")

    def job_log(self, job_id: str) -> httpx.Response:
        return self.get(f"{V1}/logs/{job_id}", expect_redirect=True)
