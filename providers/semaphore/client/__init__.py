"""Semaphore's HTTP API as the code relies on it (docs/providers/semaphore.md, "Auth and
errors" and "Paging"): ``Authorization: Token``, the documented User-Agent, and error
bodies that may be plain text, a JSON string, grpc-gateway's ``{"code", "message"}`` or
v2's ``{"message", "errors"}``.

One module per feature holds that feature's calls; ``SemaphoreClient`` composes them with
what they share here: auth, error bodies, and paging through ``BaseClient.paged`` (every
listing is bounded and checked for repeated pages). A redirect is an error unless the
call expects one (``expect_redirect``: only the job log's move to its log store)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from providers.base.client import BaseClient
from providers.base.errors import AuthError, BadResponse, PermissionDenied, ProviderError

from .agents import AgentCalls
from .deployments import DeploymentCalls, HistoryPage
from .jobs import JobCalls
from .retention import RetentionCalls
from .workflows import WorkflowCalls

V1 = "/api/v1alpha"
V2 = "/api/v2"


class SemaphoreClient(WorkflowCalls, JobCalls, AgentCalls, DeploymentCalls, RetentionCalls, BaseClient):
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

    # Shapes and paging -------------------------------------------------------------------
    def listed(self, body: Any, key: str, what: str) -> list[dict]:
        """The list under ``key`` of an object answer; a missing key is a bad answer,
        never an empty list."""
        body = self.expect(body, dict, f"the {what} answer")
        if key not in body:
            raise BadResponse(f"Semaphore's {what} answer has no {key!r} list.")
        items = self.expect(body[key] if body[key] is not None else [], list, f"the {what} list")
        return [i if isinstance(i, dict) else {} for i in items]

    def numbered_page(self, path: str, params: dict[str, Any], page: int | None, what: str) -> tuple[list, int | None]:
        """One page of a ``page``/``page_size`` listing and the number of the next
        (``link: rel="next"``), or None on the last. An empty page that says more follow
        is a bad answer: a listing that ends there is not complete."""
        number = page or 1
        response = self.get(path, params={**params, "page": number})
        items = self.expect(self.parse_json(response), list, f"the {what} list")
        following = number + 1 if "next" in response.links else None
        if not items and following is not None:
            raise BadResponse(f"Semaphore sent an empty page {number} of {what} that says more follow.")
        return [i if isinstance(i, dict) else {} for i in items], following

    def collect(self, fetch: Callable[[Any], tuple[list, Any]], *, what: str, max_pages: int | None = None) -> list:
        """Every item of a listing, through ``paged`` (repeated or endless pages raise)."""
        return [item for items, _ in self.paged(fetch, what=what, max_pages=max_pages) for item in items]


__all__ = ["V1", "V2", "HistoryPage", "SemaphoreClient"]
