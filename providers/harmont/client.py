"""Harmont's Cloud API v0 over HTTP (docs/providers/harmont.md): ``Authorization:
Bearer`` ("Auth"), cursor pages of ``limit`` + ``next_cursor`` followed with the base
client's ``paged`` ("Paging"), the v0 error envelope and the bodies that are not one
(Phoenix's ``{"errors": {"detail"}}``, the log stream's ``{"code", "message"}``; "Errors"),
and the SSE log stream, which lives outside ``/api`` and takes a build-scoped token
instead of the bearer ("Logs").

Every error carries Harmont's ``code``, ``type`` and ``request_id`` in ``details`` and
its words (with the request id, for support) in the message."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx

from providers.base.client import BaseClient
from providers.base.errors import AuthError, PermissionDenied, ProviderError
from providers.base.parse import obj, text

API = "/api/v0"


class LogTokenRefused(PermissionDenied):
    """The log stream refused its token (expired or for another build); the API token
    itself is fine, so this must not mark the connection as failed."""


def error_fields(response: httpx.Response) -> dict[str, str]:
    """code, type, message, request_id and doc_url from any of Harmont's error bodies."""
    try:
        body = json.loads(response.text)
    except ValueError:
        return {"message": response.text.strip()[:300] or response.reason_phrase}
    body = obj(body)
    envelope = obj(body.get("error"))
    if envelope:
        fields = {k: text(envelope.get(k)) for k in ("code", "type", "message", "request_id", "doc_url")}
    elif isinstance(body.get("errors"), dict):  # Phoenix: an unrouted path or a crash
        fields = {"message": text(body["errors"].get("detail"))}
    else:  # the log stream's token errors
        fields = {"code": text(body.get("code")), "message": text(body.get("message"))}
    fields["request_id"] = fields.get("request_id") or response.headers.get("x-request-id", "")
    fields["message"] = fields.get("message") or response.reason_phrase
    return {k: v for k, v in fields.items() if v}


def path(*parts: object) -> str:
    return "/".join(quote(str(p), safe="") for p in parts)


class HarmontClient(BaseClient):
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def error_message(self, response: httpx.Response) -> str:
        fields = error_fields(response)
        rid = fields.get("request_id")
        tags = ", ".join(filter(None, [fields.get("code"), rid and f"request id {rid}"]))
        return f"{fields['message']} ({tags})" if tags else fields["message"]

    def error_for(self, response: httpx.Response) -> ProviderError:
        fields = error_fields(response)
        message = self.error_message(response)
        kw = {"status": response.status_code, "body": response.text, "details": fields}
        if fields.get("code", "").startswith("log_stream_"):
            return LogTokenRefused(f"The log stream refused its token: {message}", **kw)
        if response.status_code == 401:
            return AuthError(f"Harmont refused the API token (auth failed): {message}", **kw)
        error = super().error_for(response)
        if response.status_code == 402:
            error.message = f"Harmont billing: {message}"
        error.details = fields
        return error

    # Paging ---------------------------------------------------------------------------
    def page(self, url: str, *, cursor: str | None = None, limit: int = 50) -> tuple[list[dict], str | None]:
        """One page and the cursor of the next (None: the last). A page without its
        ``data`` list is a ``BadResponse``, never an empty page."""
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        body = self.expect(self.get_json(url, params=params), dict, "the page")
        data = self.expect(body.get("data"), list, "the page's data")
        next_cursor = body.get("next_cursor")
        return [obj(item) for item in data], next_cursor if isinstance(next_cursor, str) and next_cursor else None

    def all_pages(self, url: str, what: str, limit: int = 100) -> list[dict]:
        """Every item of a listing, or an error: a listing cut short is never returned
        as if it were whole (it may be evidence of deletions)."""
        found: list[dict] = []
        for items, _ in self.paged(lambda cursor: self.page(url, cursor=cursor, limit=limit), what=what):
            found += items
        return found

    # Resources ------------------------------------------------------------------------
    def user(self) -> dict:
        return self.expect(self.get_json(f"{API}/user"), dict, "the user")

    def organizations(self) -> list[dict]:
        return self.all_pages(f"{API}/organizations", "organizations")

    def pipelines(self, org: str) -> list[dict]:
        return self.all_pages(f"{API}/organizations/{path(org)}/pipelines", f"pipelines of {org}")

    def builds_url(self, org: str, pipeline: str) -> str:
        return f"{API}/organizations/{path(org)}/pipelines/{path(pipeline)}/builds"

    def builds_page(
        self, org: str, pipeline: str, *, cursor: str | None = None, limit: int = 50
    ) -> tuple[list[dict], str | None]:
        """One page of builds, newest first, and the cursor of the next (None: last);
        the adapter follows them with ``paged`` (through the base ``scan``)."""
        return self.page(self.builds_url(org, pipeline), cursor=cursor, limit=limit)

    def build_url(self, org: str, pipeline: str, number: int | str) -> str:
        return f"{self.builds_url(org, pipeline)}/{path(number)}"

    def build(self, org: str, pipeline: str, number: int | str) -> dict:
        return self.expect(self.get_json(self.build_url(org, pipeline, number)), dict, "the build")

    def jobs(self, org: str, pipeline: str, number: int | str) -> list[dict]:
        """All of a build's jobs (not paginated), in DAG creation order."""
        body = self.expect(self.get_json(f"{self.build_url(org, pipeline, number)}/jobs"), dict, "the jobs list")
        return [obj(job) for job in self.expect(body.get("data"), list, "the jobs list's data")]

    def job(self, org: str, pipeline: str, number: int | str, job_id: str) -> dict:
        url = f"{self.build_url(org, pipeline, number)}/jobs/{path(job_id)}"
        return self.expect(self.get_json(url), dict, "the job")

    def artifacts(self, org: str, pipeline: str, number: int | str, job_id: str) -> list[dict]:
        """Assumed endpoint (not in Harmont's spec; docs/providers/harmont.md,
        "Artifacts"): ``{"data": [{name, path, size, url, content_type, created_at}]}``.
        Harmont without it answers Phoenix's 404."""
        url = f"{self.build_url(org, pipeline, number)}/jobs/{path(job_id)}/artifacts"
        body = self.expect(self.get_json(url), dict, "the artifacts list")
        return [obj(item) for item in self.expect(body.get("data"), list, "the artifacts list's data")]

    def create_build(self, org: str, pipeline: str, body: dict) -> dict:
        """POST is not retried after it reached Harmont: a retry could start a second build."""
        response = self.request("POST", self.builds_url(org, pipeline), json=body)
        return self.expect(self.parse_json(response), dict, "the created build")

    def cancel_build(self, org: str, pipeline: str, number: int | str) -> dict:
        response = self.request("PUT", f"{self.build_url(org, pipeline, number)}/cancel")
        return self.expect(self.parse_json(response), dict, "the canceled build")

    def log_token(self, org: str, pipeline: str, number: int | str) -> dict:
        body = self.get_json(f"{self.build_url(org, pipeline, number)}/log-token")
        return self.expect(body, dict, "the log token")

    # The log stream -------------------------------------------------------------------
    def open_log_stream(
        self, job_id: str, token: str, *, last_event_id: int | None = None, read_timeout: float = 1.5
    ) -> httpx.Response:
        """Open ``/v0/jobs/{id}/logs`` (retried like any GET until it answers); the caller
        reads and closes the response. ``read_timeout`` ends a read that waits longer;
        neither it nor the connect timeout outlasts the client's deadline."""
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        connect = self.http.timeout.connect or self.timeout
        remaining = self.remaining()
        if remaining is not None:
            connect, read_timeout = min(connect, max(remaining, 0.05)), min(read_timeout, max(remaining, 0.05))
        timeout = httpx.Timeout(connect, read=read_timeout, write=5.0, pool=5.0)
        # Reading a stream is safe to repeat: retried like any GET until it answers.
        return self.request(
            "GET",
            f"/v0/jobs/{path(job_id)}/logs",
            params={"token": token},
            headers=headers,
            timeout=timeout,
            stream=True,
            idempotent=True,
        )
