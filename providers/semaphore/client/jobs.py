"""Jobs in both shapes (docs/providers/semaphore.md, "Jobs (v1alpha)" and "Jobs (v2)"),
and the job log with its redirect to a log store."""

from __future__ import annotations

from typing import Any

import httpx

from providers.base.errors import NotFound
from providers.base.parse import obj, text

V1 = "/api/v1alpha"
V2 = "/api/v2"
ACTIVE_STATES = ("PENDING", "QUEUED", "RUNNING")
V1_PAGE = 30  # the v1alpha jobs list refuses more
V2_PAGE = 100


class JobCalls:
    def detect_jobs_api(self) -> str:
        try:
            self.get(f"{V2}/jobs", params={"page_size": 1})
        except NotFound:
            return "v1alpha"
        return "v2"

    # v1alpha ------------------------------------------------------------------------------
    def job(self, job_id: str) -> dict:
        return self.expect(self.get_json(f"{V1}/jobs/{job_id}"), dict, "the job")

    def jobs_page(self, states: tuple[str, ...], token: str | None) -> tuple[list[dict], str | None]:
        body = self.get_json(
            f"{V1}/jobs", params={"states": list(states), "page_size": V1_PAGE, "page_token": token or ""}
        )
        jobs = self.listed(body, "jobs", "jobs")
        return jobs, text(obj(body).get("next_page_token")) or None

    def jobs(self, states: tuple[str, ...] = ACTIVE_STATES, limit: int = 300) -> list[dict]:
        pages = max(1, -(-limit // V1_PAGE))
        return self.collect(lambda token: self.jobs_page(states, token), what="jobs", max_pages=pages)[:limit]

    def create_job(self, spec: dict) -> dict:
        return self.expect(self.parse_json(self.request("POST", f"{V1}/jobs", json=spec)), dict, "the new job")

    def stop_job(self, job_id: str) -> None:
        self.request("POST", f"{V1}/jobs/{job_id}/stop", json={}, idempotent=True)

    def debug_job(self, job_id: str, seconds: int) -> dict:
        body = self.parse_json(self.request("POST", f"{V1}/jobs/{job_id}/debug", json={"duration": str(seconds)}))
        return self.expect(body, dict, "the debug job")

    def project_debug(self, project: str, seconds: int, machine_type: str) -> dict:
        body = self.parse_json(
            self.request(
                "POST",
                f"{V1}/jobs/project_debug/{project}",
                json={"duration": str(seconds), "machine_type": machine_type},
            )
        )
        return self.expect(body, dict, "the debug job")

    def ssh_key(self, job_id: str, api: str = "v1alpha") -> str:
        prefix = V2 if api == "v2" else V1
        return text(obj(self.get_json(f"{prefix}/jobs/{job_id}/debug_ssh_key")).get("key"), 100_000)

    # v2 ------------------------------------------------------------------------------------
    def job_v2(self, job_id: str) -> dict:
        return self.expect(self.get_json(f"{V2}/jobs/{job_id}"), dict, "the job")

    def jobs_page_v2(self, state: str, project_id: str, token: str | None) -> tuple[list[dict], str | None]:
        params: dict[str, Any] = {"page_size": V2_PAGE}
        if state:
            params["state"] = state
        if project_id:
            params["project_id"] = project_id
        if token:
            params["page_token"] = token
        response = self.get(f"{V2}/jobs", params=params)
        items = self.expect(self.parse_json(response), list, "the jobs list")
        return [i if isinstance(i, dict) else {} for i in items], response.headers.get("next-page-token") or None

    def jobs_v2(self, state: str = "", project_id: str = "", limit: int = 300) -> list[dict]:
        pages = max(1, -(-limit // V2_PAGE))
        fetch = lambda token: self.jobs_page_v2(state, project_id, token)  # noqa: E731
        return self.collect(fetch, what="jobs", max_pages=pages)[:limit]

    def create_job_v2(self, resource: dict) -> dict:
        return self.expect(self.parse_json(self.request("POST", f"{V2}/jobs", json=resource)), dict, "the new job")

    def terminate_job_v2(self, job_id: str) -> dict:
        response = self.request("POST", f"{V2}/jobs/{job_id}/terminate", json={}, idempotent=True)
        return obj(self.parse_json(response))

    def debug_job_v2(self, job_id: str, seconds: int, machine: dict | None = None) -> dict:
        body: dict[str, Any] = {"execution_time_limit": seconds}
        if machine:
            body["agent"] = {"machine": machine}
        response = self.request("POST", f"{V2}/jobs/{job_id}/debug", json=body)
        return self.expect(self.parse_json(response), dict, "the debug job")

    # Logs ----------------------------------------------------------------------------------
    def job_log(self, job_id: str, api: str = "v1alpha") -> httpx.Response:
        """The log's events, or (self-hosted agents) a 302 to a log store."""
        path = f"{V2}/jobs/{job_id}/log_events" if api == "v2" else f"{V1}/logs/{job_id}"
        return self.request("GET", path, expect_redirect=True)
