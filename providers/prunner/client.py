"""prunner's REST API: a fresh HS256 JWT per request, no paging, JSON ``{"error": ...}``
errors from its handlers and a plain-text 401 from its JWT check."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx

from providers.base.client import BaseClient
from providers.base.errors import AuthError, BadResponse, NotFound, ProviderError, Rejected

from . import tokens

SERVICE_SUBJECT = "ci-dashboard"


class PrunnerClient(BaseClient):
    token_ttl = 60

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.subject = SERVICE_SUBJECT

    @contextlib.contextmanager
    def acting_as(self, subject: str) -> Iterator[PrunnerClient]:
        """Sign the requests made inside with ``sub`` = ``subject``: prunner records the
        ``sub`` of whoever schedules a job as the job's ``user``."""
        previous, self.subject = self.subject, subject or SERVICE_SUBJECT
        try:
            yield self
        finally:
            self.subject = previous

    def auth_headers(self) -> dict[str, str]:
        if not self.token:
            return {}  # no secret configured: let prunner say so ("no token found")
        # Minted per attempt, so a retry never sends a token that has run out.
        return {"Authorization": f"Bearer {tokens.mint(self.token, self.subject, self.token_ttl)}"}

    def error_message(self, response: httpx.Response) -> str:
        text = response.text.strip()
        try:
            body = response.json()
        except ValueError:
            return text[:300] or response.reason_phrase
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            return body["error"]
        return text[:300]

    def error_for(self, response: httpx.Response) -> ProviderError:
        message = self.error_message(response)
        kw = {"status": response.status_code, "body": response.text}
        if response.status_code == 401:
            return AuthError(f"prunner refused the token: {message}", **kw)
        if response.status_code == 400:
            return Rejected(f"prunner refused: {message}", **kw)
        if response.status_code == 404 and message != "404 page not found":
            return NotFound(f"prunner says: {message}", **kw)
        if response.status_code == 500 and message == "Error canceling job":
            # prunner's errJobAlreadyCompleted, not mapped to a 4xx: a refusal, not an outage.
            return Rejected("prunner refused: the job has already completed (it answered “Error canceling job”).", **kw)
        return super().error_for(response)

    # Endpoints ----------------------------------------------------------------------
    def pipelines(self) -> list[dict]:
        body = self.expect(self.get_json("/pipelines/"), dict, "the pipelines answer")
        return self.expect(body.get("pipelines") or [], list, "the pipelines list")

    def pipelines_jobs(self) -> tuple[list, list]:
        """Every pipeline and every job prunner still retains, newest job first."""
        body = self.expect(self.get_json("/pipelines/jobs"), dict, "the pipelines/jobs answer")
        if "pipelines" not in body or "jobs" not in body:
            # An answer without its lists says nothing about what prunner holds.
            raise self.bad("the pipelines/jobs answer lacks its pipelines or jobs list")
        # Go encodes an empty slice as null.
        pipelines = self.expect(body["pipelines"] or [], list, "the pipelines list")
        return pipelines, self.expect(body["jobs"] or [], list, "the jobs list")

    def job(self, job_id: str) -> dict:
        return self.expect(self.get_json("/job/detail", params={"id": job_id}), dict, "the job")

    def logs(self, job_id: str, task: str) -> tuple[str, str]:
        body = self.expect(self.get_json("/job/logs", params={"id": job_id, "task": task}), dict, "the task logs")
        stdout, stderr = body.get("stdout") or "", body.get("stderr") or ""
        if not isinstance(stdout, str) or not isinstance(stderr, str):
            raise self.bad("stdout/stderr are not strings")
        return stdout, stderr

    def schedule(self, pipeline: str, variables: dict[str, Any], queue_partition: str = "") -> str:
        """Start (or queue) a job; prunner answers 202 with its id."""
        body: dict[str, Any] = {"pipeline": pipeline, "variables": variables}
        if queue_partition:
            body["queuePartition"] = queue_partition
        answer = self.expect(
            self.parse_json(self.request("POST", "/pipelines/schedule", json=body)), dict, "the answer"
        )
        job_id = answer.get("jobId")
        if not isinstance(job_id, str) or not job_id:
            raise self.bad("the schedule answer has no jobId")
        return job_id

    def cancel(self, job_id: str) -> None:
        """Ask prunner to cancel a job; it does not wait for the tasks to stop. Sent again
        after a failure: cancelling a cancelled job is fine."""
        self.request("POST", "/job/cancel", params={"id": job_id}, idempotent=True)

    def bad(self, what: str) -> ProviderError:
        return BadResponse(f"Unexpected answer from prunner: {what}.")


__all__ = ["SERVICE_SUBJECT", "PrunnerClient"]
