"""prunner's REST API: a fresh HS256 JWT per request, no paging, JSON ``{"error": ...}``
errors from its handlers and a plain-text 401 from its JWT check.

See docs/providers/prunner.md ("Authentication", "Endpoints", "Errors")."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from providers.base.client import BaseClient
from providers.base.errors import AuthError, BadResponse, NotFound, ProviderError, Rejected

from . import tokens

SERVICE_SUBJECT = "ci-dashboard"
CHI_NOT_FOUND = "404 page not found"  # chi's answer to a path it has no route for
CANCEL_FAILED = "Error canceling job"  # prunner's 500 when the job has already completed


@dataclass
class PipelinesJobs:
    """One ``GET /pipelines/jobs`` answer. A list is None when the answer lacked its key:
    that says nothing about what prunner holds (never "there are none")."""

    pipelines: list | None
    jobs: list | None


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
        """prunner's own words, once: the page that shows a refusal names prunner itself."""
        message = self.error_message(response)
        status = response.status_code
        kw = {"status": status, "body": response.text}
        if status == 401:
            return AuthError(f"prunner refused the token: {message}", **kw)
        if status == 400:
            return Rejected(message, **kw)
        if status == 404 and message == CHI_NOT_FOUND:
            path = response.request.url.path if response.request else "?"
            return BadResponse(f"prunner has no {path} (is the connection's base URL right?)", **kw)
        if status == 404:
            return NotFound(message, **kw)
        if status == 500 and message == CANCEL_FAILED:
            # prunner's errJobAlreadyCompleted, not mapped to a 4xx: a refusal, not an outage.
            return Rejected(f"the job had already ended, so there was nothing to cancel (“{message}”).", **kw)
        return super().error_for(response)

    # Endpoints ----------------------------------------------------------------------
    def pipelines(self) -> list[dict]:
        body = self.expect(self.get_json("/pipelines/"), dict, "the pipelines answer")
        if "pipelines" not in body:
            raise self.bad("the pipelines answer lacks its pipelines list")
        return self.expect(body["pipelines"] or [], list, "the pipelines list")

    def pipelines_jobs(self) -> PipelinesJobs:
        """Every pipeline and every job prunner still retains, newest job first; a list
        the answer lacked is None."""
        body = self.expect(self.get_json("/pipelines/jobs"), dict, "the pipelines/jobs answer")
        pipelines = body.get("pipelines") if "pipelines" in body else None
        jobs = body.get("jobs") if "jobs" in body else None
        # prunner always sends both as lists; a null is read as lacking (Go's nil slice
        # would mean "none", but prunner builds these two lists non-nil).
        if pipelines is not None:
            self.expect(pipelines, list, "the pipelines list")
        if jobs is not None:
            self.expect(jobs, list, "the jobs list")
        return PipelinesJobs(pipelines, jobs)

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


__all__ = ["SERVICE_SUBJECT", "PipelinesJobs", "PrunnerClient"]
