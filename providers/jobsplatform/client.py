"""The jobs platform's HTTP API (docs/providers/jobsplatform.md, "The contract we
assume"; the names are in ``contract.py``): bearer token, nested paths under a workspace,
the ``{status, message, data}`` envelope on every answer, unpaginated lists, and log
windows that keep their newest lines, read page by page backwards (``run_log_after``).

The client also remembers the provider's clock from the ``Date`` header of the last
answer (as AWS SDKs do to correct clock skew): missed schedule fires are judged against
the platform's time, not ours. When a server sends Date twice (our simulator's
development server adds its own wall-clock Date before the simulated one), the last wins."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx

from providers.base.client import BaseClient
from providers.base.errors import AuthError, BadResponse, ProviderError, Rejected
from providers.base.parse import timestamp

from . import contract as c

_TICK = timedelta(microseconds=1)
# Pages of MAX_LOG_LIMIT lines one log read may take (a sync's or a page view's own
# request budget usually ends it sooner).
LOG_PAGES = 100


@dataclass(frozen=True)
class Window:
    """A logs/metrics time window: the last ``since`` seconds, or ``start``..``end``."""

    since: int | None = None
    start: datetime | None = None
    end: datetime | None = None

    def params(self) -> dict[str, str]:
        if self.since:
            return {c.SINCE: str(int(self.since))}
        out = {}
        if self.start is not None:
            out[c.START] = c.format_time(self.start)
        if self.end is not None:
            out[c.END] = c.format_time(self.end)
        return out


class JobsPlatformClient(BaseClient):
    def __init__(self, base_url: str, token: str, *, workspace_id: str = "", **kwargs: Any):
        super().__init__(base_url, token, **kwargs)
        self.workspace_id = workspace_id
        self.server_time: datetime | None = None

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"{c.AUTH_SCHEME} {self.token}"}

    def error_message(self, response: httpx.Response) -> str:
        try:
            body = json.loads(response.text)
        except ValueError:
            return response.text.strip()[:300] or response.reason_phrase
        if isinstance(body, dict) and isinstance(body.get(c.MESSAGE), str) and body[c.MESSAGE]:
            return body[c.MESSAGE]
        return response.text.strip()[:300] or response.reason_phrase

    def error_for(self, response: httpx.Response) -> ProviderError:
        if response.status_code == 401:
            message = self.error_message(response)
            return AuthError(f"The jobs platform refused the API token: {message}", status=401, body=response.text)
        return super().error_for(response)

    # Plumbing ----------------------------------------------------------------------------
    def path(self, template: str, **ids: str) -> str:
        ids = {"workspace_id": self.workspace_id, **ids}
        return template.format(**{k: quote(str(v), safe="") for k, v in ids.items()})

    def call(self, method: str, path: str, *, idempotent: bool | None = None, **kwargs: Any) -> Any:
        """One request; the envelope's ``data`` on success."""
        response = self.request(method, path, idempotent=idempotent, **kwargs)
        dates = response.headers.get_list("date")
        if dates:
            with contextlib.suppress(TypeError, ValueError):
                self.server_time = parsedate_to_datetime(dates[-1])
        body = self.expect(self.parse_json(response), dict, "the response envelope")
        status = body.get(c.STATUS)
        if status == c.ERROR:
            raise Rejected(str(body.get(c.MESSAGE) or "The platform answered with an error."), status=200)
        if status != c.SUCCESS:
            raise BadResponse(f"Unexpected answer: the envelope's status is {status!r}, not {c.SUCCESS!r}.")
        return body.get(c.DATA)

    # Jobs ----------------------------------------------------------------------------------
    def projects(self) -> list:
        return self.expect(self.call("GET", self.path(c.PROJECTS)), list, "the projects list")

    def jobs(self, project_id: str) -> list:
        return self.expect(self.call("GET", self.path(c.JOBS, project_id=project_id)), list, "the jobs list")

    def job(self, project_id: str, job_id: str) -> dict:
        return self.expect(self.call("GET", self.path(c.JOB, project_id=project_id, job_id=job_id)), dict, "the job")

    def create_job(self, project_id: str, fields: dict) -> dict:
        data = self.call("POST", self.path(c.JOBS, project_id=project_id), json=fields)
        return self.expect(data, dict, "the created job")

    def update_job(self, project_id: str, job_id: str, fields: dict) -> dict:
        # A partial update sent twice leaves the same job: safe to retry.
        path = self.path(c.JOB, project_id=project_id, job_id=job_id)
        return self.expect(self.call(c.UPDATE_METHOD, path, json=fields, idempotent=True), dict, "the updated job")

    def delete_job(self, project_id: str, job_id: str) -> Any:
        return self.call(c.DELETE_METHOD, self.path(c.JOB, project_id=project_id, job_id=job_id))

    def job_status(self, project_id: str, job_id: str) -> dict:
        data = self.call("GET", self.path(c.JOB_STATUS, project_id=project_id, job_id=job_id))
        return self.expect(data, dict, "the job status")

    # Runs ----------------------------------------------------------------------------------
    def runs(self, project_id: str, job_id: str) -> list:
        data = self.call("GET", self.path(c.RUNS, project_id=project_id, job_id=job_id))
        return self.expect(data, list, "the runs list")

    def run(self, project_id: str, job_id: str, run_id: str) -> dict:
        data = self.call("GET", self.path(c.RUN, project_id=project_id, job_id=job_id, run_id=run_id))
        return self.expect(data, dict, "the run")

    def trigger_run(self, project_id: str, job_id: str) -> dict:
        data = self.call("POST", self.path(c.RUNS, project_id=project_id, job_id=job_id))
        return self.expect(data, dict, "the triggered run")

    def cancel_run(self, project_id: str, job_id: str, run_id: str) -> dict:
        path = self.path(c.RUN_CANCEL, project_id=project_id, job_id=job_id, run_id=run_id)
        return self.expect(self.call(c.CANCEL_METHOD, path), dict, "the cancelled run")

    # Logs and metrics ------------------------------------------------------------------------
    def logs(
        self,
        project_id: str,
        job_id: str,
        run_id: str | None = None,
        *,
        window: Window | None = None,
        limit: int | None = None,
        filter: str | None = None,
    ) -> tuple[list[dict], bool]:
        """Log entries (oldest first) of a job, or of one run, and whether older matching
        entries were left out because of ``limit``. An answer that says lines were left
        out while it holds fewer than ``limit`` contradicts itself: it is refused rather
        than followed (a listing that claims to go on for ever)."""
        ids = {"project_id": project_id, "job_id": job_id}
        path = self.path(c.RUN_LOGS, run_id=run_id, **ids) if run_id else self.path(c.JOB_LOGS, **ids)
        params = (window or Window()).params()
        if limit is not None:
            params[c.LIMIT] = str(limit)
        if filter:
            params[c.FILTER] = filter
        data = self.expect(self.call("GET", path, params=params), dict, "the logs")
        entries = [e for e in self.expect(data.get(c.ENTRIES), list, "the log entries") if isinstance(e, dict)]
        truncated = bool(data.get(c.TRUNCATED))
        asked = limit if limit is not None else c.DEFAULT_LOG_LIMIT
        if truncated and len(entries) < asked:
            raise BadResponse(
                f"Unexpected answer: the platform said more log lines matched than the {asked} asked for, "
                f"but sent {len(entries)}."
            )
        return entries, truncated

    def run_log_after(self, project_id: str, job_id: str, run_id: str, start: datetime | None) -> list[dict]:
        """Every entry of a run from ``start`` on (inclusive), oldest first. The platform
        keeps the newest ``limit`` entries of a window, so a truncated answer is followed
        by earlier pages, each ending where the previous one began; through ``paged``,
        so a page that repeats or a listing that never ends stops with an error instead
        of looping, and the client's request budget bounds the whole read."""

        def fetch(position: str | None) -> tuple[list[dict], str | None]:
            end = timestamp(position) if position else None
            entries, truncated = self.logs(
                project_id, job_id, run_id, window=Window(start=start, end=end), limit=c.MAX_LOG_LIMIT
            )
            oldest = timestamp(entries[0].get(c.TIMESTAMP)) if entries else None
            if not truncated or oldest is None:
                return entries, None
            # Entries sharing the oldest timestamp may be split across pages: take them all
            # from the next page (whose end is exclusive, hence one tick later).
            newer = [e for e in entries if timestamp(e.get(c.TIMESTAMP)) != oldest]
            if not newer:  # a whole page within one microsecond: keep it and move on
                return entries, c.format_time(oldest)
            return newer, c.format_time(oldest + _TICK)

        pages = [page for page, _ in self.paged(fetch, what=f"log lines of run {run_id}", max_pages=LOG_PAGES)]
        return [entry for page in reversed(pages) for entry in page]

    def metrics(self, project_id: str, job_id: str, names: list[str], window: Window | None = None) -> dict:
        params = {c.NAMES: ",".join(names), **(window or Window()).params()}
        data = self.call("GET", self.path(c.JOB_METRICS, project_id=project_id, job_id=job_id), params=params)
        return self.expect(data, dict, "the metrics")
