"""A stateful prunner (Flowpack/prunner b692da9) on loopback, answering as the real server
does (docs/providers/prunner.md, including "As the real server answers").

- The six routes; chi's plain-text ``404 page not found`` and empty 405. Everything under
  ``/pipelines`` and ``/job`` passes the JWT check first (so an unknown path there
  without a valid token is a 401), as chi's mounted sub-routers do.
- JWT: HS256 with the shared secret (the simulator's token), header ``Authorization:
  Bearer`` (scheme in any case) then cookie ``jwt``; ``iat``/``exp``/``nbf`` validated
  when present; plain-text 401 with jwtauth v5.3.3's words. Time claims are checked
  against the real clock, not the simulated one, because real clients mint real tokens
  while tests move the simulated world forward by hand.
- Handler answers are JSON (Go's encoder: one value and a newline); errors are
  ``{"error": ...}``; scheduling answers 202. Unset times are ``null`` (prunner's JSON
  encoder ignores ``omitempty`` on them); other optional fields are left out.
- The world (``world.py``, ``run.py``, ``plans.py``): six pipelines with task graphs,
  concurrency, wait lists, start delays, fail-fast or continue-after-failure,
  ``allow_failure``, ``on_error``, cancellation, retention and restarts
  (``restart()``). ``Scale.builds`` is the history per pipeline and each pipeline's
  ``retention_count``; ``Scale.jobs`` sizes the build_and_test graph; ``Scale.projects``
  above six adds copies of the pipelines; every ``Scale.arrival_every`` seconds one
  pipeline (in turn) gets a new job, which prunner may refuse (``rollback`` always).
- Faults (docs/providers/prunner.md, "Faults"): the base ones, plus a listing without
  its ``pipelines``/``jobs`` key or with an empty list, a job without its ``tasks``,
  ``Job not found`` bursts on ``/job/detail`` and ``/job/logs``, unknown task statuses.
  prunner does not page, so the paging faults never apply.
- ``truth()``: what the dashboard should show for every job prunner holds, from the
  world itself.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from providers.base.sim import Simulator

from .. import tokens
from .plans import definitions
from .run import TaskRun, TaskView
from .world import AlreadyCompleted, Job, JobNotFound, ScheduleError, World

PROTECTED = ("/pipelines", "/job")


def rfc3339(ts: float | None) -> str | None:
    """Go's time.RFC3339 in UTC: whole seconds, ``Z``; an unset time is null."""
    if ts is None:
        return None
    return datetime.fromtimestamp(int(ts // 1), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def plain(text: str, status: int) -> Response:
    """Go's http.Error."""
    return Response(
        text + "\n",
        status=status,
        content_type="text/plain; charset=utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


class PrunnerSimulator(Simulator):
    kind = "prunner"
    auth_clock = staticmethod(time.time)

    def __init__(self, token: str, **kwargs: Any):
        super().__init__(token, **kwargs)
        scale = self.scale
        self.world = World(
            definitions(shards=max(scale.jobs - 1, 1), history=scale.builds, extra=max(scale.projects - 6, 0)),
            rng=self.rng,
            uuid=self.uuid,
            start=self.now(),
            history=scale.builds,
            arrival_every=scale.arrival_every,
        )
        self.world.advance(self.now())

    # Helpers for people and tests ---------------------------------------------------
    def debug_token(self) -> str:
        """What ``prunner debug`` prints after ``Authorization: Bearer``: ``{"iat": now}``."""
        return tokens.encode(self.token, {"iat": int(self.auth_clock())})

    def advance(self) -> None:
        with self.lock:
            self.world.advance(self.now())

    def restart(self, keep_store: bool = True) -> None:
        """prunner restarts now, with its store (jobs reloaded, running ones canceled,
        every ``lastError`` gone) or without (every job forgotten)."""
        with self.lock:
            self.world.restart(self.now(), keep_store)

    def truth(self) -> dict[str, dict[str, str]]:
        """What the dashboard should show for each job prunner holds and its tasks,
        from the world's own course (docs/providers/prunner.md, "Job state"). Cancels
        are taken as not made from the dashboard."""
        with self.lock:
            t = self.now()
            self.world.advance(t)
            builds, jobs = {}, {}
            for job in self.world.jobs.values():
                views = job.views(t)
                state = job_truth(job, views, t)
                builds[job.id] = state
                for task, view in views:
                    jobs[f"{job.id}:{task.name}"] = task_truth(view, state)
            return {"builds": builds, "jobs": jobs}

    def events(self) -> list[dict]:
        """Each job prunner holds: when it was created, and when it completed or was
        canceled before it started (None while neither)."""
        with self.lock:
            t = self.now()
            self.world.advance(t)
            out = []
            for job in self.world.jobs.values():
                finished = None
                if job.start is None and job.canceled_at is not None and job.canceled_at <= t:
                    finished = job.canceled_at
                elif job.completed(t):
                    finished = job.run.end
                out.append({"id": job.id, "arrived": job.created, "finished": finished})
            return out

    # Base hooks ----------------------------------------------------------------------
    def routes(self) -> list[Rule]:
        return [
            Rule("/pipelines/", endpoint="pipelines", methods=["GET"]),
            Rule("/pipelines/jobs", endpoint="pipelines_jobs", methods=["GET"]),
            Rule("/pipelines/schedule", endpoint="pipelines_schedule", methods=["POST"]),
            Rule("/job/detail", endpoint="job_detail", methods=["GET"]),
            Rule("/job/logs", endpoint="job_logs", methods=["GET"]),
            Rule("/job/cancel", endpoint="job_cancel", methods=["POST"]),
        ]

    def authenticate(self, request: Request) -> Response | None:
        path = request.path
        if not any(path == p or path.startswith(p + "/") for p in PROTECTED):
            return None
        token = tokens.from_request(request.headers.get("Authorization", ""), request.cookies.get("jwt"))
        claims, error = tokens.verify(token, self.token, self.auth_clock())
        if error:
            return plain(error, 401)
        request.environ["prunner.claims"] = claims
        return None

    def not_found(self, request: Request) -> Response:
        return plain("404 page not found", 404)

    def refused(self, request: Request) -> Response:
        return plain(tokens.UNAUTHORIZED, 401)

    def _respond(self, request: Request) -> Response:
        self.advance()
        return super()._respond(request)

    def answer(self, body: Any, status: int = 200) -> Response:
        return Response(json.dumps(body) + "\n", status=status, content_type="application/json")

    def error(self, message: str, status: int) -> Response:
        return self.answer({"error": message}, status)

    # Serialisers -----------------------------------------------------------------------
    def pipelines_json(self) -> list[dict]:
        t = self.now()
        return [
            {
                "pipeline": name,
                "schedulable": not self.world.refusal(pipeline, t),
                "running": self.world.running_count(name, t) > 0,
            }
            for name, pipeline in sorted(self.world.pipelines.items())
        ]

    def task_json(self, task: TaskRun, view: TaskView) -> dict:
        body: dict[str, Any] = {"name": task.name}
        if task.depends_on:
            body["dependsOn"] = list(task.depends_on)
        body["status"] = self.odd_enum(view.status, "paused")
        body.update(
            start=rfc3339(view.start),
            end=rfc3339(view.end),
            skipped=False,
            exitCode=view.exit_code,
            errored=view.errored,
        )
        if view.error:
            body["error"] = view.error
        return body

    def job_json(self, job: Job) -> dict:
        t = self.now()
        completed = job.completed(t)
        body: dict[str, Any] = {
            "id": job.id,
            "pipeline": job.pipeline.name,
            "tasks": [self.task_json(task, view) for task, view in job.views(t)],
            "completed": completed,
            "canceled": job.canceled(t),
            "errored": job.errored(t),
            "created": rfc3339(job.created),
            "start": rfc3339(job.start),
            "end": rfc3339(job.run.end) if completed else None,
        }
        if job.last_error(t):
            body["lastError"] = job.last_error(t)
        if job.variables:
            body["variables"] = job.variables
        body["user"] = job.user
        return body

    def job_for(self, request: Request) -> tuple[Job | None, Response | None]:
        try:
            job_id = str(uuid.UUID(request.args.get("id", "")))
        except ValueError:
            return None, self.error("Invalid job id", 400)
        job = self.world.jobs.get(job_id)
        if job is None:
            return None, self.error("Job not found", 404)
        return job, None

    # Endpoints ----------------------------------------------------------------------------
    def pipelines(self, request: Request) -> Response:
        return self.answer(self.listing({"pipelines": self.pipelines_json()}, "pipelines"))

    def pipelines_jobs(self, request: Request) -> Response:
        jobs = [self.job_json(job) for job in self.world.newest_first()]
        body = self.listing({"pipelines": self.pipelines_json(), "jobs": jobs}, "jobs")
        return self.answer(self.listing(body, "pipelines"))

    def pipelines_schedule(self, request: Request) -> Response:
        body, problem = decode_schedule(request.get_data(as_text=True))
        if problem:
            return self.error(f"Error decoding JSON: {problem}", 400)
        claims = request.environ.get("prunner.claims") or {}
        user = claims.get("sub") if isinstance(claims.get("sub"), str) else ""
        try:
            job = self.world.schedule(body["pipeline"], body["variables"], body["queuePartition"], user, self.now())
        except ScheduleError as exc:
            return self.error(f"Error scheduling pipeline: {exc}", 400)
        return self.answer({"jobId": job.id}, 202)

    def job_detail(self, request: Request) -> Response:
        job, refusal = self.job_for(request)
        if refusal is not None:
            return refusal
        if self.detail_missing():
            return self.error("Job not found", 404)
        return self.answer(self.listing(self.job_json(job), "tasks"))

    def job_logs(self, request: Request) -> Response:
        try:
            job_id = str(uuid.UUID(request.args.get("id", "")))
        except ValueError:
            return self.error("Invalid job id", 400)
        name = request.args.get("task", "")
        if not name:
            return self.error("Invalid task name", 400)
        job = self.world.jobs.get(job_id)
        if job is None or self.detail_missing():
            return self.error("Job not found", 404)
        task = job.task(name, self.now())
        if task is None:
            return self.error("Task not found", 404)
        t = self.now() if job.halted_at is None else min(self.now(), job.halted_at)
        stdout, stderr = task.output(t)
        return self.answer({"stdout": stdout, "stderr": stderr})

    def job_cancel(self, request: Request) -> Response:
        try:
            job_id = str(uuid.UUID(request.args.get("id", "")))
        except ValueError:
            return self.error("Invalid job id", 400)
        try:
            self.world.cancel(job_id, self.now())
        except JobNotFound:
            return self.error("Job not found", 404)
        except AlreadyCompleted:
            return self.error("Error canceling job", 500)
        return self.answer(True)


# The truth: what the dashboard should show -----------------------------------------------
def job_truth(job: Job, views: list[tuple[TaskRun, TaskView]], t: float) -> str:
    """A job with a task in error failed, whatever prunner's ``canceled`` says; one
    canceled (by a request, a replacing job or a restart) with none, canceled."""
    errored = any(view.errored for _, view in views)
    if job.canceled(t):
        return "failed" if errored else "canceled"
    if job.completed(t):
        return "failed" if errored else "passed"
    return "running" if job.start is not None else "queued"


def task_truth(view: TaskView, job_state: str) -> str:
    if view.status == "waiting":
        return {"failed": "skipped", "canceled": "canceled"}.get(job_state, "queued")
    if view.status == "done":
        return "failed" if view.exit_code not in (0, -1) else "passed"  # an allowed failure
    return {"running": "running", "error": "failed", "canceled": "canceled", "skipped": "skipped"}[view.status]


# Go's encoding/json, as far as the schedule body goes -----------------------------------------
FIELDS = {"pipeline": str, "variables": dict, "queuePartition": str}
GO_TYPES = {str: "string", dict: "map[string]interface {}"}


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def decode_schedule(raw: str) -> tuple[dict[str, Any], str]:
    """The request body as prunner's decoder reads it: the first JSON value, keys matched
    to the fields without regard to case, unknown keys ignored, null leaving a field
    empty. Returns (fields, "") or ({}, Go's error text)."""
    text = raw.lstrip(" \t\r\n")
    if not text:
        return {}, "EOF"
    try:
        value, _ = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text):
            return {}, "unexpected EOF"
        return {}, f"invalid character {text[exc.pos]!r} looking for beginning of value"
    fields: dict[str, Any] = {"pipeline": "", "variables": {}, "queuePartition": ""}
    if value is None:
        return fields, ""
    if not isinstance(value, dict):
        return {}, f"json: cannot unmarshal {_json_kind(value)} into Go value of type struct"
    for key, item in value.items():
        name = key if key in FIELDS else next((f for f in FIELDS if f.lower() == key.lower()), None)
        if name is None or item is None:
            continue
        if not isinstance(item, FIELDS[name]):
            expected = GO_TYPES[FIELDS[name]]
            return {}, f"json: cannot unmarshal {_json_kind(item)} into Go struct field .{name} of type {expected}"
        fields[name] = item
    return fields, ""


__all__ = ["PrunnerSimulator"]
