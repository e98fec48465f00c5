"""A stateful Harmont (Cloud API v0) on loopback, as docs/providers/harmont.md and
Harmont's published spec (docs/providers/harmont-openapi.public.json) describe it,
quirks included: ``Bearer `` auth (exactly that
prefix), the v0 error envelope with ``request_id`` = the ``X-Request-Id`` header,
Phoenix's ``{"errors": {"detail": …}}`` for unrouted paths and crashes, cursor pages
(``limit`` clamped to 1..100, junk -> 50, an undecodable cursor = first page;
organizations and pipelines oldest first, builds newest first), the unpaginated jobs
list, create / cancel build, build-scoped log tokens, and the SSE log stream
``/v0/jobs/{id}/logs`` (no ``/api`` prefix) with ``history``, ``chunk``, ``:``
heartbeats and ``done`` right after a heartbeat once the job is terminal (``logs``).

Knobs beyond the base ``Scale``/``Faults`` (attributes, so tests may change them live):
``heartbeat`` (seconds of silence before ``:``; 15 in Harmont), ``log_token_ttl``
(seconds, ~1 h in Harmont), ``balance_exhausted`` (every create answers 402),
``artifacts_enabled`` (False: the artifacts path is unrouted, a Phoenix 404),
``drop_stream_after`` (cut the log stream's connection after that many chunk frames).
Branch ``sim/no-balance`` answers 402 and ``sim/plan-rejected`` 422
``build_plan_rejected`` (the build row is still created, failed, with its error fields).

Scale: ``projects`` organizations, each with a ``ci`` pipeline and a ``release`` pipeline
(``allow_manual: false``); ``builds`` seeded history builds per pipeline; ``jobs`` jobs
per build, roughly; a new build per pipeline every ``arrival_every`` seconds.

The base faults are answered in Harmont's own bodies (docs/providers/harmont.md,
"Faults"): listings lose their ``data`` or come back empty, a 404 burst answers
``build_not_found`` on every build-scoped endpoint, a repeated page answers the page
before the cursor again, endless pages end with a cursor that starts over, and a
revoked token is the ``unauthorized`` envelope. ``truth()`` is what this Harmont holds.

Assumptions where Harmont's docs are silent: the artifacts endpoint (docs/providers/
harmont.md, "Artifacts"); validation (422 ``build_invalid``) runs before the
manual-build check (403) and the balance check (402); jobs whose prerequisite failed
hard are ``skipped``; the stream's ``Last-Event-ID`` history holds only chunks after it.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from datetime import UTC, datetime

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from providers.base.sim import Simulator

from . import world
from .logs import LogStreamMixin
from .world import Build, Job, Org, Pipeline

API = "/api/v0"
PIPELINE = f"{API}/organizations/<org>/pipelines/<pipeline>"
BUILD = f"{PIPELINE}/builds/<number>"
DOCS = "https://docs.harmont.dev/api/errors/"
# The scope and CI errors have hyphenated doc pages; catalog errors keep underscores.
HYPHEN_DOCS = {
    "organization_not_found",
    "pipeline_not_found",
    "build_not_found",
    "job_not_found",
    "build_invalid",
    "build_plan_rejected",
}
MESSAGES = {
    "unauthorized": "This endpoint requires a valid bearer token.",
    "organization_not_found": "No organization with that slug is accessible to you.",
    "pipeline_not_found": "No pipeline with that slug exists in this organization.",
    "build_not_found": "No build with that number exists in this pipeline.",
    "job_not_found": "No job with that id exists in this build.",
    "pipeline_manual_disabled": "Manual builds are disabled for this pipeline.",
    "billing_insufficient_balance": "Your account doesn't have enough balance for this build.",
}
# Harmont's build and job states as the dashboard shows them, for ``truth``.
NEUTRAL = {
    "pending": "queued",
    "scheduled": "queued",
    "assigned": "queued",
    "running": "running",
    "failing": "running",
    "canceling": "running",
    "timing_out": "running",
    "passed": "passed",
    "failed": "failed",
    "timed_out": "failed",
    "skipped": "skipped",
    "canceled": "canceled",
}
REQUEST_ID = re.compile(r"^[A-Za-z0-9+/=\-]{20,200}$")
PIPELINES = [("ci", "CI", True), ("release", "Release", False)]


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    # isoformat's text with "Z" for "+00:00": strftime's, in half the time (a jobs list
    # writes some twenty of these).
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def encode_cursor(key: tuple) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


AGAIN = "again"  # a cursor of the endless-pages fault: the listing starts over


def decode_cursor(value: str | None) -> tuple | None:
    if not value:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (ValueError, TypeError):
        return None
    if not isinstance(key, list) or len(key) != 2:
        return None
    return tuple(key) if key[0] == AGAIN or isinstance(key[0], (int, float)) else None


def page_limit(value: str | None) -> int:
    try:
        return min(max(int(value or ""), 1), 100)
    except ValueError:
        return 50


class HarmontSimulator(LogStreamMixin, Simulator):
    kind = "harmont"

    def __init__(self, token: str, *, heartbeat: float = 15.0, log_token_ttl: float = 3600.0, **kwargs):
        self.heartbeat = heartbeat
        self.log_token_ttl = log_token_ttl
        self.balance_exhausted = False
        self.artifacts_enabled = True
        self.drop_stream_after: int | None = None
        self.orgs: dict[str, Org] = {}
        self.jobs: dict[str, tuple[Build, Job]] = {}
        self._closing = threading.Event()
        self._request_count = 0
        super().__init__(token, **kwargs)
        self._secret = f"harmont-sim:{self.seed}".encode()
        self.start = self.now()
        for i in range(self.scale.projects):
            name = world.ORG_NAMES[i % len(world.ORG_NAMES)]
            if i >= len(world.ORG_NAMES):
                name = f"{name} {i // len(world.ORG_NAMES) + 1}"
            org = Org(slug=name.lower().replace(" ", "-"), name=name, created=self.start - 86400 * (60 - i))
            for j, (slug, title, manual) in enumerate(PIPELINES):
                org.pipelines[slug] = Pipeline(
                    org=org.slug,
                    slug=slug,
                    name=f"{name} {title}",
                    repository=f"https://github.com/{org.slug}/app.git",
                    allow_manual=manual,
                    created=org.created + 3600 * (j + 1),
                    index=i * len(PIPELINES) + j,
                )
            self.orgs[org.slug] = org
        self.advance()

    # World ---------------------------------------------------------------------------
    def all_pipelines(self) -> list[Pipeline]:
        return [p for org in self.orgs.values() for p in org.pipelines.values()]

    def seeded_created_at(self, pipeline: Pipeline, k: int) -> float:
        history = self.scale.builds
        if k < history:
            return self.start - (history - k) * world.HISTORY_SPACING + self.rng("bt", pipeline.index, k).uniform(0, 60)
        every = self.scale.arrival_every
        stagger = every * pipeline.index / max(len(self.all_pipelines()), 1)
        return self.start + (k - history + 1) * every + stagger

    def advance(self) -> None:
        """Create the seeded builds whose time has come."""
        now = self.now()
        for pipeline in self.all_pipelines():
            while pipeline.generated < self.scale.builds or self.scale.arrival_every > 0:
                k = pipeline.generated
                created = self.seeded_created_at(pipeline, k)
                if created > now:
                    break
                rng = self.rng("seeded", pipeline.index, k)
                self.create_build(
                    pipeline,
                    branch=rng.choice(world.BRANCHES),
                    commit=f"{rng.getrandbits(160):040x}",
                    message=rng.choice(world.MESSAGES),
                    source="webhook",
                    created=created,
                )
                pipeline.generated += 1

    def create_build(
        self,
        pipeline: Pipeline,
        *,
        branch: str,
        commit: str,
        message: str | None,
        source: str,
        created: float,
        env: dict | None = None,
        outcomes: dict[str, str] | None = None,
        error: tuple[str, str] | None = None,
        jobs: int | None = None,
    ) -> Build:
        """Plan a build; ``outcomes`` (step key -> passed/failed/timed_out) lets tests
        script one."""
        number = pipeline.next_number
        rng = self.rng("plan", pipeline.org, pipeline.slug, number)
        count = jobs if jobs is not None else self.scale.jobs + rng.randint(-1, 1)
        planned = (
            []
            if error
            else world.plan_jobs(
                rng, lambda key: self.uuid("job", pipeline.org, pipeline.slug, number, key), created, count, outcomes
            )
        )
        build = Build(
            org=pipeline.org,
            pipeline=pipeline.slug,
            number=number,
            branch=branch,
            commit=commit,
            message=message or "",
            source=source,
            created=created,
            jobs=planned,
            error_code=error[0] if error else None,
            error_message=error[1] if error else None,
            env=dict(env or {}),
        )
        build.plan()
        pipeline.builds[number] = build
        for job in planned:
            self.jobs[job.id] = (build, job)
        return build

    # HTTP plumbing ----------------------------------------------------------------------
    def routes(self) -> list[Rule]:
        return [
            Rule(f"{API}/user", endpoint="get_user", methods=["GET"]),
            Rule(f"{API}/organizations", endpoint="list_organizations", methods=["GET"]),
            Rule(f"{API}/organizations/<org>/pipelines", endpoint="list_pipelines", methods=["GET"]),
            Rule(PIPELINE, endpoint="get_pipeline", methods=["GET"]),
            Rule(f"{PIPELINE}/builds", endpoint="list_builds", methods=["GET"]),
            Rule(f"{PIPELINE}/builds", endpoint="create_build_endpoint", methods=["POST"]),
            Rule(BUILD, endpoint="get_build", methods=["GET"]),
            Rule(f"{BUILD}/cancel", endpoint="cancel_build", methods=["PUT"]),
            Rule(f"{BUILD}/jobs", endpoint="list_jobs", methods=["GET"]),
            Rule(f"{BUILD}/jobs/<job_id>", endpoint="get_job", methods=["GET"]),
            Rule(f"{BUILD}/jobs/<job_id>/artifacts", endpoint="list_artifacts", methods=["GET"]),
            Rule(f"{BUILD}/log-token", endpoint="get_log_token", methods=["GET"]),
            Rule("/v0/jobs/<job_id>/logs", endpoint="log_stream", methods=["GET"]),
        ]

    def _respond(self, request: Request) -> Response:
        with self.lock:
            self.advance()
            self._request_count += 1
            count = self._request_count
        sent = request.headers.get("x-request-id", "")
        rid = sent if REQUEST_ID.match(sent) else self.request_id(count)
        request.environ["harmont.request_id"] = rid
        response = super()._respond(request)
        response.headers["x-request-id"] = rid
        return response

    def request_id(self, n: int) -> str:
        return base64.urlsafe_b64encode(self.rng("request", n).randbytes(15)).decode()

    def error(self, request: Request, status: int, type_: str, code: str, message: str | None = None) -> Response:
        doc = code.replace("_", "-") if code in HYPHEN_DOCS else code
        body = {
            "type": type_,
            "code": code,
            "message": message or MESSAGES.get(code, code),
            "doc_url": DOCS + doc,
            "request_id": request.environ.get("harmont.request_id"),
        }
        return self.json({"error": body}, status=status)

    def authenticate(self, request: Request) -> Response | None:
        if request.path.startswith("/v0/"):
            return None  # the log stream takes its own token
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or header[len("Bearer ") :] != self.token:
            return self.error(request, 401, "unauthorized", "unauthorized")
        return None

    def not_found(self, request: Request) -> Response:
        return self.json({"errors": {"detail": "Not Found"}}, status=404)

    def refused(self, request: Request) -> Response:
        return self.error(request, 401, "unauthorized", "unauthorized")

    def truth(self) -> dict[str, dict[str, str]]:
        """Every build and job this Harmont holds, in the dashboard's words (from the
        world's own states; docs/providers/harmont.md, "States")."""
        with self.lock:
            self.advance()
            t = self.now()
            builds, jobs = {}, {}
            for pipeline in self.all_pipelines():
                for build in pipeline.builds.values():
                    builds[f"{build.org}:{build.pipeline}:{build.number}"] = NEUTRAL[build.state(t)]
                    for job in build.jobs:
                        jobs[job.id] = NEUTRAL[build.job_state(job, t)]
        return {"builds": builds, "jobs": jobs}

    def server_error(self, status: int) -> Response:
        return self.json({"errors": {"detail": "Internal Server Error"}}, status=status)

    def rate_limited(self, retry_after: float) -> Response:
        body = {"type": "rate_limited", "code": "rate_limited", "message": "Too many requests; slow down."}
        return self.json(
            {"error": body},
            status=429,
            headers={"Retry-After": str(int(retry_after) if retry_after >= 1 else retry_after)},
        )

    def stop(self) -> None:
        self._closing.set()  # ends open log streams, so shutdown does not wait on them
        super().stop()

    def page(self, request: Request, rows: list, key, newest_first: bool) -> dict:
        """One cursor page of rows already in list order; ``key(row)`` is its
        ``(inserted_at, id)``. The paging faults: a repeated page answers the page before
        the cursor again (with the same cursor); endless pages end with a cursor that
        starts the listing over."""
        limit = page_limit(request.args.get("limit"))
        given = request.args.get("cursor")
        after = decode_cursor(given)
        if after is not None and after[0] == AGAIN:
            after = None
        if after is not None:
            beyond = [r for r in rows if (key(r) < after if newest_first else key(r) > after)]
            if self.page_repeats():
                before = [r for r in rows if r not in beyond]
                return {"data": before[-limit:], "next_cursor": given}
            rows = beyond
        chunk = rows[:limit]
        more = len(rows) > limit
        following = encode_cursor(key(chunk[-1])) if more and chunk else None
        if following is None and chunk and self.pages_endless():
            following = encode_cursor((AGAIN, self._request_count))
        return {"data": chunk, "next_cursor": following}

    def listed(self, request: Request, rows: list, key, newest_first: bool, serialise) -> Response:
        """A paged listing, as the listing faults would spoil it."""
        body = self.page(request, rows, key, newest_first)
        return self.json(self.listing({**body, "data": [serialise(r) for r in body["data"]]}, "data"))

    # Lookups ---------------------------------------------------------------------------
    def find_pipeline(self, request: Request, org: str, pipeline: str) -> Pipeline | Response:
        found_org = self.orgs.get(org)
        if found_org is None:
            return self.error(request, 404, "not_found", "organization_not_found")
        found = found_org.pipelines.get(pipeline)
        if found is None:
            return self.error(request, 404, "not_found", "pipeline_not_found")
        return found

    def find_build(self, request: Request, org: str, pipeline: str, number: str) -> Build | Response:
        """The build of a build-scoped endpoint (its detail, jobs, job, artifacts, log
        token, cancel): these answer ``build_not_found`` in a 404 burst."""
        found = self.find_pipeline(request, org, pipeline)
        if isinstance(found, Response):
            return found
        build = found.builds.get(int(number)) if number.isdigit() else None
        if build is None or self.detail_missing():
            return self.error(request, 404, "not_found", "build_not_found")
        return build

    def find_job(self, request: Request, org: str, pipeline: str, number: str, job_id: str) -> Job | Response:
        build = self.find_build(request, org, pipeline, number)
        if isinstance(build, Response):
            return build
        job = next((j for j in build.jobs if j.id == job_id), None)
        return job if job is not None else self.error(request, 404, "not_found", "job_not_found")

    # Serialisers ---------------------------------------------------------------------
    def org_json(self, org: Org) -> dict:
        url = f"https://{org.slug}.example"
        return {"slug": org.slug, "name": org.name, "url": url, "created_at": iso(org.created)}

    def pipeline_json(self, p: Pipeline) -> dict:
        return {
            "slug": p.slug,
            "name": p.name,
            "repository": p.repository,
            "repo_name": f"{p.org}/app",
            "default_branch": "main",
            "description": None if p.allow_manual else "Releases are built from tags only.",
            "visibility": "private",
            "allow_manual": p.allow_manual,
            "created_at": iso(p.created),
        }

    def build_json(self, b: Build) -> dict:
        t = self.now()
        return {
            "number": b.number,
            "pipeline_slug": b.pipeline,
            "state": self.odd_enum(b.state(t), "awaiting_approval"),
            "branch": b.branch,
            "commit": b.commit,
            "message": b.message or None,
            "source": b.source,
            "created_at": iso(b.created),
            "scheduled_at": iso(b.created),
            "started_at": iso(b.started_at(t)),
            "finished_at": iso(b.finished_at(t)),
            "error_code": b.error_code,
            "error_message": b.error_message,
        }

    def job_json(self, b: Build, job: Job) -> dict:
        t = self.now()
        state = b.job_state(job, t)
        started, finished = b.job_times(job, t)
        failed = state in ("failed", "timed_out")
        return {
            "id": job.id,
            "name": job.name,
            "step_key": job.step_key,
            "command": job.command,
            "state": self.odd_enum(state, "preempted"),
            "exit_code": job.exit_code if state in ("passed", "failed") else None,
            "depends_on": list(job.deps),
            "soft_failed": state == "failed" and job.soft_failed,
            "retry_policy": job.retry_policy,
            "soft_fail_policy": job.soft_fail_policy,
            "error_code": ("job_timed_out" if state == "timed_out" else "job_failed") if failed else None,
            "error_message": (
                f"Timed out after {job.duration:.0f}s." if state == "timed_out" else f"Exited with {job.exit_code}."
            )
            if failed
            else None,
            "created_at": iso(job.created),
            "started_at": iso(started),
            "finished_at": iso(finished),
        }

    # Endpoints -----------------------------------------------------------------------
    def get_user(self, request: Request) -> Response:
        first = next(iter(self.orgs), None)
        return self.json(
            {"uuid": self.uuid("user"), "email": "dev@example.com", "name": "Dev", "personal_org_slug": first}
        )

    def list_organizations(self, request: Request) -> Response:
        orgs = sorted(self.orgs.values(), key=lambda o: (o.created, o.slug))
        return self.listed(request, orgs, lambda o: (o.created, o.slug), False, self.org_json)

    def list_pipelines(self, request: Request, org: str) -> Response:
        found = self.orgs.get(org)
        if found is None:
            return self.error(request, 404, "not_found", "organization_not_found")
        rows = sorted(found.pipelines.values(), key=lambda p: (p.created, p.slug))
        return self.listed(request, rows, lambda p: (p.created, p.slug), False, self.pipeline_json)

    def get_pipeline(self, request: Request, org: str, pipeline: str) -> Response:
        found = self.find_pipeline(request, org, pipeline)
        if not isinstance(found, Response) and self.detail_missing():
            return self.error(request, 404, "not_found", "pipeline_not_found")
        return found if isinstance(found, Response) else self.json(self.pipeline_json(found))

    def list_builds(self, request: Request, org: str, pipeline: str) -> Response:
        found = self.find_pipeline(request, org, pipeline)
        if isinstance(found, Response):
            return found
        rows = sorted(found.builds.values(), key=lambda b: (b.created, b.number), reverse=True)
        return self.listed(request, rows, lambda b: (b.created, b.number), True, self.build_json)

    def create_build_endpoint(self, request: Request, org: str, pipeline: str) -> Response:
        found = self.find_pipeline(request, org, pipeline)
        if isinstance(found, Response):
            return found
        body = request.get_json(silent=True)
        problem = invalid_build_body(body)
        if problem:
            return self.error(request, 422, "validation_failed", "build_invalid", f"Invalid build: {problem}.")
        source = body.get("source") or "api"
        if not found.allow_manual and source in ("api", "ui"):
            return self.error(request, 403, "forbidden", "pipeline_manual_disabled")
        if self.balance_exhausted or body["branch"] == "sim/no-balance":
            return self.error(request, 402, "billing", "billing_insufficient_balance")
        error = None
        if body["branch"] == "sim/plan-rejected":
            error = ("build_plan_rejected", "The pipeline could not be planned: step 'deploy' needs unknown 'migrate'.")
        build = self.create_build(
            found,
            branch=body["branch"],
            commit=body["commit"],
            message=body.get("message"),
            source=source,
            created=self.now(),
            env=body.get("env"),
            error=error,
        )
        if error:
            return self.error(request, 422, "validation_failed", *error)
        return self.json(self.build_json(build), status=201)

    def get_build(self, request: Request, org: str, pipeline: str, number: str) -> Response:
        build = self.find_build(request, org, pipeline, number)
        return build if isinstance(build, Response) else self.json(self.build_json(build))

    def cancel_build(self, request: Request, org: str, pipeline: str, number: str) -> Response:
        build = self.find_build(request, org, pipeline, number)
        if isinstance(build, Response):
            return build
        build.cancel(self.now())
        return self.json(self.build_json(build))

    def list_jobs(self, request: Request, org: str, pipeline: str, number: str) -> Response:
        build = self.find_build(request, org, pipeline, number)
        if isinstance(build, Response):
            return build
        return self.json(self.listing({"data": [self.job_json(build, job) for job in build.jobs]}, "data"))

    def get_job(self, request: Request, org: str, pipeline: str, number: str, job_id: str) -> Response:
        job = self.find_job(request, org, pipeline, number, job_id)
        if isinstance(job, Response):
            return job
        return self.json(self.job_json(self.jobs[job.id][0], job))

    def list_artifacts(self, request: Request, org: str, pipeline: str, number: str, job_id: str) -> Response:
        if not self.artifacts_enabled:
            return self.not_found(request)
        job = self.find_job(request, org, pipeline, number, job_id)
        if isinstance(job, Response):
            return job
        build = self.jobs[job.id][0]
        if build.job_state(job, self.now()) not in ("passed", "failed"):
            return self.json(self.listing({"data": []}, "data"))
        files = [("junit.xml", "reports/junit.xml", "application/xml")]
        if job.step_key in ("package", "image"):
            files.append(("app.tar.gz", "dist/app.tar.gz", "application/gzip"))
        rng = self.rng("artifacts", job.id)
        data = [
            {
                "name": name,
                "path": path,
                "size": rng.randint(200, 5_000_000),
                "content_type": content_type,
                "url": f"https://artifacts.harmont.dev/{job.id}/{path}",
                "created_at": iso(job.end),
            }
            for name, path, content_type in files
        ]
        return self.json(self.listing({"data": data}, "data"))


def invalid_build_body(body: object) -> str:
    """What is wrong with a create-build body, in Harmont's words (roughly), or ""."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    for name in ("branch", "commit"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            return f"{name} can't be blank"
    for name in ("message", "source", "pipeline_ir", "source_url", "source_b64", "source_sha256"):
        if body.get(name) is not None and not isinstance(body[name], str):
            return f"{name} must be a string"
    env = body.get("env")
    if env is not None and (not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values())):
        return "env must map names to string values"
    return ""


__all__ = ["HarmontSimulator"]
