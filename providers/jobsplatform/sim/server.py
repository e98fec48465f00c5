"""A stateful jobs platform on loopback, speaking the contract in ``contract.py``
(docs/providers/jobsplatform.md; its "Faults" table says what each fault knob does here).

Its cron scheduler really fires: every request first runs the schedules whose time has
come on the simulator's clock (croniter, UTC), so a test that advances the clock sees
the runs appear. Runs go pending -> running -> succeeded/failed (or cancelled), write
stdout/stderr lines and CPU/memory samples as they go. Deleting a job removes its runs
and schedule. Every answer, errors included, is the ``{status, message, data}``
envelope; the ``Date`` header carries the simulator's clock.

The base's fault knobs are applied where the platform builds its answers: listings (the
project, job and run lists; a log page's entries) lose their key or come back empty, a
single item's endpoints (job, status, run, logs, metrics) answer the platform's own 404,
a log page repeats the one before or says more lines are left out than it holds, and
run states, triggers and streams take values the docs never listed. Knobs beyond those,
for tests: ``pause_scheduler()``/``resume_scheduler()`` (fires due while paused are
skipped, as a platform that was down would skip them), and ``failing_metrics`` ({name:
error message}) to make one metric's query fail."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from providers.base.sim import Simulator

from .. import contract as c
from ..schedule import next_fire
from . import queries
from .queries import Refusal, stamp
from .world import PROJECT_NAMES, TEMPLATES, JobDef, Project, Run, plan_run

MAX_BACKLOG = 86400.0  # a clock jump longer than a day fires only the last day's schedule
ODD_STATE = "preempted"
ODD_TRIGGER = "webhook"
ODD_STREAM = "stdlog"
# The platform's run states as the dashboard shows them (for ``truth``).
NEUTRAL = {
    c.PENDING: "queued",
    c.RUNNING: "running",
    c.SUCCEEDED: "passed",
    c.FAILED: "failed",
    c.CANCELLED: "canceled",
}


def rule(template: str) -> str:
    return template.replace("{", "<").replace("}", ">")


class JobsPlatformSimulator(Simulator):
    kind = "jobsplatform"

    def __init__(self, token: str, **kwargs):
        super().__init__(token, **kwargs)
        self.workspace_id = self.ident("ws", "workspace")
        self.projects: dict[str, Project] = {}
        self.jobs: dict[str, JobDef] = {}
        self.runs: dict[str, Run] = {}
        self.failing_metrics: dict[str, str] = {}
        # The last log page answered per path: what a repeating page answers again.
        self.log_pages: dict[str, dict] = {}
        self.scheduler_paused = False
        self.start = self.now()
        for i in range(self.scale.projects):
            name = PROJECT_NAMES[i % len(PROJECT_NAMES)] + (f"-{i // len(PROJECT_NAMES)}" if i >= 6 else "")
            project = Project(self.ident("prj", "project", i), name, i)
            self.projects[project.id] = project
            for k in range(max(self.scale.jobs, 1)):
                self.seed_job(project, k)
        self.advance(backlog=math.inf)  # the seeded history

    # World ----------------------------------------------------------------------------
    def ident(self, prefix: str, *parts: object) -> str:
        return f"{prefix}_{self.rng('id', *parts).getrandbits(48):012x}"

    def connection_options(self) -> dict:
        """What a Connection to this simulator needs in ``options``."""
        return {"workspace_id": self.workspace_id, "project_ids": list(self.projects)}

    def truth(self) -> dict[str, dict[str, str]]:
        """Every run the platform holds now, in the dashboard's words; each run is also
        its build's single job."""
        with self.lock:
            self.advance()
            now = self.now()
            builds = {f"{run.job_id}:{run.id}": NEUTRAL[run.status(now)] for run in self.runs.values()}
        return {"builds": builds, "jobs": dict(builds)}

    def seed_job(self, project: Project, k: int) -> None:
        t = TEMPLATES[k % len(TEMPLATES)]
        name = t.name if k < len(TEMPLATES) else f"{t.name}-{k // len(TEMPLATES)}"
        builds = max(self.scale.builds, 0)
        if t.schedule == "* * * * *":
            span = builds * 60 + 30
        elif t.schedule and t.history:
            span = t.history
        elif t.schedule:
            span = builds * 900 + 30
        else:
            span = builds * 1800 + 60
        created = self.start - span
        job = self.add_job(
            project.id,
            {c.NAME: name, c.IMAGE: t.image, c.COMMAND: t.command, c.SCHEDULE: t.schedule, c.TAGS: list(t.tags)},
            created=created,
            key=("seeded", project.index, k),
        )
        job.seconds, job.lines = t.seconds, t.lines
        if not t.schedule:
            for j in range(builds):
                jitter = self.rng("history", job.id, j).uniform(0, 600)
                self.add_run(job, created + 60 + j * 1800 + jitter, c.MANUAL)
            job.arrivals_from = self.start + self.rng("stagger", job.id).uniform(0, max(self.scale.arrival_every, 0))

    def add_job(self, project_id: str, fields: dict, *, created: float, key: tuple) -> JobDef:
        job = JobDef(
            id=self.ident("job", *key),
            project_id=project_id,
            name=fields[c.NAME],
            image=fields[c.IMAGE],
            command=fields.get(c.COMMAND) or "",
            schedule=fields.get(c.SCHEDULE) or None,
            tags=list(fields.get(c.TAGS) or []),
            env_vars=dict(fields.get(c.ENV_VARS) or {}),
            created=created,
            updated=created,
        )
        job.next_fire = self.next_fire_ts(job.schedule, created)
        self.jobs[job.id] = job
        return job

    def add_run(self, job: JobDef, created: float, trigger: str) -> Run:
        job.seq += 1
        run_id = self.ident("run", job.id, job.seq)
        run = plan_run(self.rng("run", run_id), job, run_id, created, trigger)
        self.runs[run.id] = run
        job.runs.append(run.id)
        return run

    @staticmethod
    def next_fire_ts(schedule: str | None, after: float) -> float | None:
        fire = next_fire(schedule, after) if schedule else None
        return fire.timestamp() if fire else None

    def advance(self, backlog: float = MAX_BACKLOG) -> None:
        """Fire the schedules whose time has come; other people's manual runs arrive every
        ``Scale.arrival_every`` seconds on on-demand jobs."""
        now = self.now()
        for job in list(self.jobs.values()):
            if job.schedule and not self.scheduler_paused:
                if job.next_fire is not None and job.next_fire < now - backlog:
                    job.next_fire = self.next_fire_ts(job.schedule, now - backlog)
                while job.next_fire is not None and job.next_fire <= now:
                    self.add_run(job, job.next_fire, c.SCHEDULED)
                    job.next_fire = self.next_fire_ts(job.schedule, job.next_fire)
            elif not job.schedule and job.arrivals_from is not None and self.scale.arrival_every > 0:
                every = self.scale.arrival_every
                due = int((now - job.arrivals_from) // every) + 1 if now >= job.arrivals_from else 0
                for k in range(job.arrivals, due):
                    self.add_run(job, job.arrivals_from + k * every, c.MANUAL)
                job.arrivals = max(job.arrivals, due)

    def pause_scheduler(self) -> None:
        self.scheduler_paused = True

    def resume_scheduler(self) -> None:
        """Fires that fell due while paused are skipped, not caught up."""
        self.scheduler_paused = False
        now = self.now()
        for job in self.jobs.values():
            job.next_fire = self.next_fire_ts(job.schedule, now)

    # HTTP -------------------------------------------------------------------------------
    def routes(self) -> list[Rule]:
        r = [
            (c.PROJECTS, "list_projects", "GET"),
            (c.JOBS, "list_jobs", "GET"),
            (c.JOBS, "create_job", "POST"),
            (c.JOB, "get_job", "GET"),
            (c.JOB, "update_job", c.UPDATE_METHOD),
            (c.JOB, "delete_job", c.DELETE_METHOD),
            (c.JOB_LOGS, "job_logs", "GET"),
            (c.JOB_METRICS, "job_metrics", "GET"),
            (c.JOB_STATUS, "job_status", "GET"),
            (c.RUNS, "list_runs", "GET"),
            (c.RUNS, "trigger_run", "POST"),
            (c.RUN, "get_run", "GET"),
            (c.RUN_CANCEL, "cancel_run", c.CANCEL_METHOD),
            (c.RUN_LOGS, "run_logs", "GET"),
        ]
        return [Rule(rule(path), endpoint=endpoint, methods=[method]) for path, endpoint, method in r]

    def envelope(self, status: str, message: str, data: Any, code: int, headers: dict | None = None) -> Response:
        return self.json({c.STATUS: status, c.MESSAGE: message, c.DATA: data}, status=code, headers=headers)

    def ok(self, data: Any, message: str, code: int = 200) -> Response:
        return self.envelope(c.SUCCESS, message, data, code)

    def listed(self, items: list, message: str) -> Response:
        """A list answer, as the listing faults would spoil it (no ``data``, or empty)."""
        body = self.listing({c.STATUS: c.SUCCESS, c.MESSAGE: message, c.DATA: items}, c.DATA)
        return self.json(body)

    def vanish(self, what: str) -> None:
        """With the 404 fault on, an item's own endpoint says it has no such item."""
        if self.detail_missing():
            raise Refusal(404, f"{what} not found.")

    def log_page(self, request: Request, runs: list[Run], message: str) -> Response:
        """One page of log entries. Faults: the entries' key missing or emptied, the page
        before answered again (a server that ignores ``end``), or ``truncated`` said of
        every page."""
        previous = self.log_pages.get(request.path)
        if previous is not None and request.args.get(c.END) and self.page_repeats():
            data = previous
        else:
            data = queries.select_logs(request.args, runs, self.now())
            for entry in data[c.ENTRIES]:
                entry[c.STREAM] = self.odd_enum(entry[c.STREAM], ODD_STREAM)
            if self.pages_endless():
                data = {**data, c.TRUNCATED: True}
            self.log_pages[request.path] = data
        return self.ok(self.listing(data, c.ENTRIES), message)

    def fail(self, code: int, message: str, errors: dict | None = None, headers: dict | None = None) -> Response:
        return self.envelope(c.ERROR, message, {c.ERRORS: errors} if errors else None, code, headers)

    def authenticate(self, request: Request) -> Response | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != c.AUTH_SCHEME or not token:
            return self.fail(401, "Missing bearer token: send Authorization: Bearer <API token>.")
        if token != self.token:
            return self.fail(401, "Invalid API token.")
        return None

    def not_found(self, request: Request) -> Response:
        return self.fail(404, f"No such endpoint: {request.method} {request.path}")

    def refused(self, request: Request) -> Response:
        return self.fail(401, "Invalid API token.")

    def server_error(self, status: int) -> Response:
        return self.fail(status, "Internal error, please retry.")

    def rate_limited(self, retry_after: float) -> Response:
        value = str(int(retry_after) if retry_after >= 1 else retry_after)
        return self.fail(429, "Too many requests; slow down.", headers={"Retry-After": value})

    def _respond(self, request: Request) -> Response:
        with self.lock:
            self.advance()
        try:
            response = super()._respond(request)
        except Refusal as refusal:
            response = self.fail(refusal.status, refusal.message, refusal.errors)
        # The platform's clock, which the adapter reads to judge missed fires.
        response.headers["Date"] = format_datetime(datetime.fromtimestamp(self.now(), tz=UTC), usegmt=True)
        return response

    # Lookups --------------------------------------------------------------------------------
    def find_project(self, workspace_id: str, project_id: str) -> Project:
        if workspace_id != self.workspace_id:
            raise Refusal(404, f"Workspace {workspace_id} not found.")
        project = self.projects.get(project_id)
        if project is None:
            raise Refusal(404, f"Project {project_id} not found in workspace {workspace_id}.")
        return project

    def find_job(self, workspace_id: str, project_id: str, job_id: str) -> JobDef:
        self.find_project(workspace_id, project_id)
        job = self.jobs.get(job_id)
        if job is None or job.project_id != project_id:
            raise Refusal(404, f"Job {job_id} not found in project {project_id}.")
        return job

    def find_run(self, workspace_id: str, project_id: str, job_id: str, run_id: str) -> tuple[JobDef, Run]:
        job = self.find_job(workspace_id, project_id, job_id)
        run = self.runs.get(run_id)
        if run is None or run.job_id != job.id:
            raise Refusal(404, f"Run {run_id} not found for job {job_id}.")
        return job, run

    # Serialisers ----------------------------------------------------------------------------
    def job_json(self, job: JobDef) -> dict:
        return {
            c.JOB_ID: job.id,
            c.PROJECT_ID: job.project_id,
            c.NAME: job.name,
            c.IMAGE: job.image,
            c.COMMAND: job.command,
            c.SCHEDULE: job.schedule,
            c.TAGS: list(job.tags),
            c.ENV_VARS: dict(job.env_vars),
            c.CREATED_AT: stamp(job.created),
            c.UPDATED_AT: stamp(job.updated),
        }

    def run_json(self, run: Run) -> dict:
        t = self.now()
        status = run.status(t)
        exit_code = None
        if status in (c.SUCCEEDED, c.FAILED):
            exit_code = run.exit_code
        elif status == c.CANCELLED and run.started_at(t) is not None:
            exit_code = 143
        error = run.error if status == c.FAILED else "Cancelled on request." if status == c.CANCELLED else None
        return {
            c.RUN_ID: run.id,
            c.JOB_ID: run.job_id,
            c.PROJECT_ID: run.project_id,
            c.RUN_STATUS: self.odd_enum(status, ODD_STATE),
            c.TRIGGER: self.odd_enum(run.trigger, ODD_TRIGGER),
            c.IMAGE: run.image,
            c.COMMAND: run.command,
            c.CREATED_AT: stamp(run.created),
            c.STARTED_AT: stamp(run.started_at(t)),
            c.FINISHED_AT: stamp(run.finished_at(t)),
            c.EXIT_CODE: exit_code,
            c.RUN_ERROR: error,
        }

    def runs_of(self, job: JobDef) -> list[Run]:
        """Newest first."""
        ordered = sorted(enumerate(job.runs), key=lambda pair: (self.runs[pair[1]].created, pair[0]), reverse=True)
        return [self.runs[run_id] for _, run_id in ordered]

    # Request parsing --------------------------------------------------------------------------
    def body(self, request: Request) -> dict:
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            raise Refusal(400, "The request body must be a JSON object.")
        return payload

    # Endpoints: jobs ------------------------------------------------------------------------
    def list_projects(self, request: Request, workspace_id: str) -> Response:
        if workspace_id != self.workspace_id:
            raise Refusal(404, f"Workspace {workspace_id} not found.")
        data = [{c.PROJECT_ID: p.id, c.NAME: p.name} for p in sorted(self.projects.values(), key=lambda p: p.index)]
        return self.listed(data, "List of projects")

    def list_jobs(self, request: Request, workspace_id: str, project_id: str) -> Response:
        self.find_project(workspace_id, project_id)
        jobs = sorted((j for j in self.jobs.values() if j.project_id == project_id), key=lambda j: j.name)
        return self.listed([self.job_json(j) for j in jobs], "List of jobs")

    def create_job(self, request: Request, workspace_id: str, project_id: str) -> Response:
        self.find_project(workspace_id, project_id)
        fields = queries.validate_job(self.body(request), partial=False)
        self.ensure_unique_name(project_id, fields[c.NAME])
        key = ("api", project_id, sum(1 for j in self.jobs.values() if j.project_id == project_id), fields[c.NAME])
        job = self.add_job(project_id, fields, created=self.now(), key=key)
        return self.ok(self.job_json(job), "Job created", 201)

    def ensure_unique_name(self, project_id: str, name: str, other_than: str = "") -> None:
        if any(j.project_id == project_id and j.name == name and j.id != other_than for j in self.jobs.values()):
            raise Refusal(409, f"A job named {name!r} already exists in this project.")

    def get_job(self, request: Request, workspace_id: str, project_id: str, job_id: str) -> Response:
        job = self.find_job(workspace_id, project_id, job_id)
        self.vanish(f"Job {job_id}")
        return self.ok(self.job_json(job), "Job detail")

    def update_job(self, request: Request, workspace_id: str, project_id: str, job_id: str) -> Response:
        job = self.find_job(workspace_id, project_id, job_id)
        fields = queries.validate_job(self.body(request), partial=True)
        if c.NAME in fields:
            self.ensure_unique_name(project_id, fields[c.NAME], other_than=job.id)
        now = self.now()
        for key, value in fields.items():
            if key == c.SCHEDULE:
                job.schedule = value or None
                job.next_fire = self.next_fire_ts(job.schedule, now)
            elif key == c.TAGS:
                job.tags = list(value or [])
            elif key == c.ENV_VARS:
                job.env_vars = dict(value or {})
            else:
                setattr(job, key, value or "")
        job.updated = now
        return self.ok(self.job_json(job), "Job updated")

    def delete_job(self, request: Request, workspace_id: str, project_id: str, job_id: str) -> Response:
        job = self.find_job(workspace_id, project_id, job_id)
        for run_id in job.runs:
            self.runs.pop(run_id, None)
        del self.jobs[job.id]
        return self.ok({c.JOB_ID: job.id, "deleted_runs": len(job.runs)}, "Deleted")

    def job_status(self, request: Request, workspace_id: str, project_id: str, job_id: str) -> Response:
        job = self.find_job(workspace_id, project_id, job_id)
        self.vanish(f"Job {job_id}")
        t = self.now()
        runs = self.runs_of(job)
        counts = {c.TOTAL: len(runs), **{state: 0 for state in c.RUN_STATES}}
        for run in runs:
            counts[run.status(t)] += 1
        data = {
            c.JOB_ID: job.id,
            c.LATEST_RUN: self.run_json(runs[0]) if runs else None,
            c.RUN_COUNTS: counts,
        }
        if job.schedule:
            data.update({c.SCHEDULE: job.schedule, c.NEXT_FIRE_AT: stamp(job.next_fire)})
        return self.ok(data, "Status")

    # Endpoints: runs ------------------------------------------------------------------------
    def list_runs(self, request: Request, workspace_id: str, project_id: str, job_id: str) -> Response:
        job = self.find_job(workspace_id, project_id, job_id)
        return self.listed([self.run_json(r) for r in self.runs_of(job)], "List of runs")

    def trigger_run(self, request: Request, workspace_id: str, project_id: str, job_id: str) -> Response:
        job = self.find_job(workspace_id, project_id, job_id)
        return self.ok(self.run_json(self.add_run(job, self.now(), c.MANUAL)), "Run triggered", 201)

    def get_run(self, request: Request, workspace_id: str, project_id: str, job_id: str, run_id: str) -> Response:
        _, run = self.find_run(workspace_id, project_id, job_id, run_id)
        self.vanish(f"Run {run_id}")
        return self.ok(self.run_json(run), "Run detail")

    def cancel_run(self, request: Request, workspace_id: str, project_id: str, job_id: str, run_id: str) -> Response:
        _, run = self.find_run(workspace_id, project_id, job_id, run_id)
        status = run.status(self.now())
        if status in c.TERMINAL:
            raise Refusal(409, f"Run {run_id} is already {status}; only pending or running runs can be cancelled.")
        run.cancelled_at = self.now()
        return self.ok(self.run_json(run), "Cancelled")

    # Endpoints: logs and metrics --------------------------------------------------------------
    def job_logs(self, request: Request, workspace_id: str, project_id: str, job_id: str) -> Response:
        job = self.find_job(workspace_id, project_id, job_id)
        self.vanish(f"Job {job_id}")
        return self.log_page(request, [self.runs[r] for r in job.runs], "Logs")

    def run_logs(self, request: Request, workspace_id: str, project_id: str, job_id: str, run_id: str) -> Response:
        _, run = self.find_run(workspace_id, project_id, job_id, run_id)
        self.vanish(f"Run {run_id}")
        return self.log_page(request, [run], "Run logs")

    def job_metrics(self, request: Request, workspace_id: str, project_id: str, job_id: str) -> Response:
        job = self.find_job(workspace_id, project_id, job_id)
        self.vanish(f"Job {job_id}")
        runs = [self.runs[r] for r in job.runs]
        data, message = queries.metrics(request.args, runs, self.now(), self.failing_metrics)
        return self.ok(data, message)


__all__ = ["JobsPlatformSimulator"]
