"""The simulated Semaphore's jobs API, in both shapes (docs/providers/semaphore.md,
"Jobs (v1alpha)" and "Jobs (v2)"): v1alpha (grpc-gateway JSON, int64 times as strings,
``page_token`` paging, grpc error bodies) and the v2 jobs resource, which no Semaphore
server serves; here it follows Semaphore's v2 conventions (token paging with
``link``/``next-page-token`` headers, ``{"message", "documentation_url"}`` 404s,
JSON:API-style 422s). Only jobs whose block was scheduled exist; a job created through
the API keeps and shows the spec it was sent.

Assumptions for v2 (docs/providers/semaphore.md, "Jobs (v2)"): no apiVersion/kind
wrapper; the ``state`` filter takes the v1alpha state names; create takes the resource
shape (``metadata.name``, ``metadata.project.id``, ``spec``); terminate answers the
resource; ``log_events`` answers v1alpha's ``{"events": [...]}`` (or the log store's
redirect); ``debug_ssh_key`` answers ``{"key"}``; debug takes ``{"agent": {"machine":
{...}}, "execution_time_limit": seconds}``. The v2 routes can be switched off
(``jobs_v2=False``) to play a real Semaphore."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from .http import request_body
from .world import JobPlan, Pipeline

V1 = "/api/v1alpha"
V2 = "/api/v2"
GRPC = {3: 400, 5: 404, 7: 403, 9: 400, 13: 500}
V2_EPILOGUES = ("epilogue_always_commands", "epilogue_on_fail_commands", "epilogue_on_pass_commands")
FAKE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAsimulated{}\n-----END OPENSSH PRIVATE KEY-----\n"
)


def iso(ts: float | None) -> str | None:
    if not ts:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JobsSimMixin:
    jobs_v2 = True

    def init_jobs(self) -> None:
        self.job_holders: dict[str, Pipeline] = {}

    def jobs_routes(self) -> list[Rule]:
        rules = [
            Rule(f"{V1}/jobs", endpoint="v1_list_jobs", methods=["GET"]),
            Rule(f"{V1}/jobs", endpoint="v1_create_job", methods=["POST"]),
            Rule(f"{V1}/jobs/project_debug/<project>", endpoint="v1_project_debug", methods=["POST"]),
            Rule(f"{V1}/jobs/<job_id>/stop", endpoint="v1_stop_job", methods=["POST"]),
            Rule(f"{V1}/jobs/<job_id>/debug", endpoint="v1_debug_job", methods=["POST"]),
            Rule(f"{V1}/jobs/<job_id>/debug_ssh_key", endpoint="v1_ssh_key", methods=["GET"]),
        ]
        if self.jobs_v2:
            rules += [
                Rule(f"{V2}/jobs", endpoint="v2_list_jobs", methods=["GET"]),
                Rule(f"{V2}/jobs", endpoint="v2_create_job", methods=["POST"]),
                Rule(f"{V2}/jobs/<job_id>", endpoint="v2_describe_job", methods=["GET"]),
                Rule(f"{V2}/jobs/<job_id>/terminate", endpoint="v2_terminate_job", methods=["POST"]),
                Rule(f"{V2}/jobs/<job_id>/log_events", endpoint="v2_log_events", methods=["GET"]),
                Rule(f"{V2}/jobs/<job_id>/debug_ssh_key", endpoint="v2_ssh_key", methods=["GET"]),
                Rule(f"{V2}/jobs/<job_id>/debug", endpoint="v2_debug_job", methods=["POST"]),
            ]
        return rules

    # Shared -------------------------------------------------------------------------------
    def grpc_error(self, code: int, message: str) -> Response:
        return self.json({"code": code, "message": message, "details": []}, status=GRPC[code])

    def v2_error(self, status: int, message: str, pointer: str = "") -> Response:
        if status == 422:
            return self.json(
                {
                    "message": "Validation Failed",
                    "documentation_url": None,
                    "errors": [{"title": "Invalid value", "source": {"pointer": pointer}, "detail": message}],
                },
                status=422,
            )
        return self.json({"message": message, "documentation_url": None}, status=status)

    def all_jobs(self) -> list[tuple[Pipeline, JobPlan]]:
        """The jobs that exist now (their block was scheduled), newest first."""
        t = self.now()
        found = [pj for pj in self.jobs.values() if pj[0].exists(pj[1], t)]
        return sorted(found, key=lambda pj: (pj[0].created, pj[1].start), reverse=True)

    def token_page(self, items: list, start: int, size: int) -> tuple[list, int | None]:
        """A page of a token-paged list and the offset of the next (with the faults)."""
        shown = start - size if start >= size and self.page_repeats() else start
        chunk = items[shown : shown + size]
        more = start + size < len(items) or self.pages_endless()
        return chunk, start + size if more else None

    def public_state(self, job: JobPlan) -> str:
        status = job.status(self.now())[0]
        return {"QUEUED": "QUEUED", "RUNNING": "RUNNING", "FINISHED": "FINISHED"}[status]

    def standalone_job(
        self, project_id: str, name: str, spec: dict, duration: float, *, debug_of: str = "", time_limit: int = 3600
    ) -> tuple[Pipeline, JobPlan]:
        """A job outside any pipeline: created through the API or as a debug session."""
        t = self.now()
        key = ("standalone", len(self.jobs), name, t)
        holder = Pipeline(
            id="",
            wf_id="",
            project_id=project_id,
            name="",
            yml_file="",
            branch="",
            commit_sha="",
            commit_message="",
            created=t,
            run_start=t + 1,
            blocks=[],
            requester_id=self.uuid("user", 0),
        )
        machine = spec.get("agent", {}).get("machine", {}) if isinstance(spec.get("agent"), dict) else {}
        job = JobPlan(
            id=self.uuid("job", *key),
            name=name,
            index=0,
            start=t + 2,
            duration=duration,
            passes=True,
            commands=[str(c) for c in spec.get("commands") or []] or ["sleep 3600"],
            machine_type=str(machine.get("type") or "e1-standard-2"),
            os_image=str(machine.get("os_image") or "ubuntu2004"),
            spec=spec,
            debug_of=debug_of,
            time_limit=time_limit,
            scheduled=t,
        )
        self.jobs[job.id] = (holder, job)
        return holder, job

    def debug_session(self, project_id: str, of: str, seconds: int, machine: dict | None = None):
        spec = {"agent": {"machine": machine or {}}, "commands": [f"sleep {seconds}"]}
        name = f"Debug session for {of}" if of else "Project debug session"
        return self.standalone_job(project_id, name, spec, float(seconds), debug_of=of, time_limit=seconds)

    @staticmethod
    def seconds(value, default: int = 3600) -> int | None:
        """Durations come as a JSON string or number of seconds; 0 means the default."""
        try:
            n = int(str(value if value not in (None, "") else 0))
        except ValueError:
            return None
        return default if n == 0 else n if n > 0 else None

    # v1alpha ------------------------------------------------------------------------------
    def v1_list_jobs(self, request: Request) -> Response:
        states = request.args.getlist("states")
        try:
            size = int(request.args.get("page_size") or 0) or 30
        except ValueError:
            return self.grpc_error(3, "Invalid page_size")
        if size > 30:
            return self.grpc_error(3, "Page size can't exceed 30")
        jobs = [pj for pj in self.all_jobs() if self.public_state(pj[1]) in states] if states else []
        chunk, following = self.token_page(jobs, _decode_token(request.args.get("page_token")), size)
        body = {
            "jobs": [self.job_json(p, j) for p, j in chunk],
            "next_page_token": _encode_token(following) if following is not None else "",
        }
        return self.json(self.listing(body, "jobs"))

    def v1_create_job(self, request: Request) -> Response:
        body = request_body(request)
        meta, spec = body.get("metadata") or {}, body.get("spec") or {}
        if not isinstance(meta, dict) or not isinstance(spec, dict) or not meta.get("name"):
            return self.grpc_error(3, "Job name can't be empty")
        if spec.get("project_id") not in self.projects:
            return self.grpc_error(3, "Project id is invalid")
        machine = (spec.get("agent") or {}).get("machine") or {}
        if str(machine.get("type", "")).startswith("s1-"):
            return self.grpc_error(3, "Self-hosted agent type is not allowed")
        holder, job = self.standalone_job(spec["project_id"], str(meta["name"]), spec, 20.0)
        return self.json(self.job_json(holder, job))

    def v1_stop_job(self, request: Request, job_id: str) -> Response:
        found = self.visible_job(job_id)
        if found is None:
            return self.grpc_error(5, f"Job {job_id} not found")
        found[0].stop_job(found[1], self.now())
        return self.json({})

    def v1_ssh_key(self, request: Request, job_id: str) -> Response:
        found = self.visible_job(job_id)
        if found is None:
            return self.grpc_error(5, f"Job {job_id} not found")
        if self.public_state(found[1]) != "RUNNING":
            return self.grpc_error(9, "SSH key is available only for running jobs")
        return self.json({"key": FAKE_KEY.format(job_id[:8])})

    def v1_debug_job(self, request: Request, job_id: str) -> Response:
        found = self.visible_job(job_id)
        if found is None:
            return self.grpc_error(5, f"Job {job_id} not found")
        seconds = self.seconds(request_body(request).get("duration"))
        if seconds is None:
            return self.grpc_error(3, "Duration must be a positive number of seconds")
        holder, job = self.debug_session(
            found[0].project_id, job_id, seconds, {"type": found[1].machine_type, "os_image": found[1].os_image}
        )
        return self.json(self.job_json(holder, job))

    def v1_project_debug(self, request: Request, project: str) -> Response:
        match = next((p for p in self.projects.values() if project in (p.id, p.name)), None)
        if match is None:
            return self.grpc_error(5, f"Project {project} not found")
        params = request_body(request)
        seconds = self.seconds(params.get("duration"))
        if seconds is None:
            return self.grpc_error(3, "Duration must be a positive number of seconds")
        machine = {"type": str(params.get("machine_type") or "e1-standard-2"), "os_image": "ubuntu2004"}
        holder, job = self.debug_session(match.id, "", seconds, machine)
        return self.json(self.job_json(holder, job))

    # v2 -----------------------------------------------------------------------------------
    def v2_job_json(self, ppl: Pipeline, job: JobPlan) -> dict:
        """A v2 job: times never run ahead of the clock or of each other; a job created
        through the API shows the spec it was sent."""
        t = self.now()
        status, result = job.status(t)
        project = self.projects.get(ppl.project_id)
        spec = job.spec or {}
        running_or_done = status != "QUEUED"
        created = job.scheduled if job.scheduled is not None else ppl.created
        return {
            "metadata": {
                "id": job.id,
                "organization": {"id": self.uuid("org"), "name": self.org},
                "project": {"id": ppl.project_id, "name": project.name if project else ""},
                "workflow": {"id": ppl.wf_id},
                "pipeline": {"id": ppl.id},
                "name": job.name,
                "timeline": {
                    "created_at": iso(created),
                    "created_by": {"id": ppl.requester_id, "type": "USER"},
                    "updated_at": iso(max(created, min(t, job.updated(t)))),
                    "updated_by": {"id": ppl.requester_id, "type": "USER"},
                },
            },
            "spec": {
                "agent": {
                    "ports": [{"name": "ssh", "number": 30000}],
                    "containers": spec.get("containers", []),
                    "machine": {"type": job.machine_type, "os_image": job.os_image},
                },
                "env_vars": list(spec.get("env_vars") or [])
                if spec
                else [
                    {"name": "SEMAPHORE_WORKFLOW_ID", "value": ppl.wf_id},
                    {"name": "SEMAPHORE_PIPELINE_ID", "value": ppl.id},
                ],
                "secrets": list(spec.get("secrets") or [])
                if spec
                else [{"name": "DOCKERHUB_USERNAME"}, {"name": "DOCKERHUB_PASSWORD"}],
                "commands": job.commands,
                **(
                    {key: list(spec.get(key) or []) for key in V2_EPILOGUES}
                    if spec
                    else {
                        "epilogue_always_commands": ["echo 'Job finished'"],
                        "epilogue_on_fail_commands": ["echo 'Job failed'"],
                        "epilogue_on_pass_commands": ["echo 'Job passed'"],
                    }
                ),
                "execution_time_limit": job.time_limit,
            },
            "status": {
                "agent": {
                    "name": self.agent_of(job) if running_or_done else "",
                    "ip": "10.1.2.3" if running_or_done and not job.self_hosted else "",
                },
                "result": self.odd_enum(result),
                "state": self.public_state(job),
                "timeline": {
                    "created_at": iso(created),
                    "enqueued_at": iso(created + 0.2),
                    "scheduled_at": iso(job.start - 0.2) if running_or_done else None,
                    "started_at": iso(job.start) if running_or_done else None,
                    "finished_at": iso(job.end) if status == "FINISHED" else None,
                },
            },
        }

    def v2_find(self, job_id: str):
        return self.visible_job(job_id)

    def v2_list_jobs(self, request: Request) -> Response:
        try:
            size = int(request.args.get("page_size") or 20)
        except ValueError:
            size = 0
        if not 1 <= size <= 100:
            return self.v2_error(422, "page_size must be between 1 and 100", "/page_size")
        state, project_id = request.args.get("state"), request.args.get("project_id")
        jobs = [
            pj
            for pj in self.all_jobs()
            if (not state or self.public_state(pj[1]) == state) and (not project_id or pj[0].project_id == project_id)
        ]
        start = _decode_token(request.args.get("page_token"))
        if request.args.get("direction") == "PREVIOUS":
            start = max(start - size, 0)
        chunk, following = self.token_page(jobs, start, size)
        headers = {"per-page": str(size)}
        links = []
        base = f"http://{request.host}{request.path}"
        others = "&".join(f"{k}={v}" for k, v in request.args.items(multi=True) if k not in ("page_token", "direction"))
        sep = "&" if others else ""
        links.append(f'<{base}?{others}{sep}page_token=>; rel="first"')
        if start > 0:
            token = _encode_token(start)
            headers["previous-page-token"] = token
            links.append(f'<{base}?{others}{sep}page_token={token}&direction=PREVIOUS>; rel="prev"')
        if following is not None:
            token = _encode_token(following)
            headers["next-page-token"] = token
            links.append(f'<{base}?{others}{sep}page_token={token}>; rel="next"')
        headers["link"] = ", ".join(links)
        return self.json(self.listing([self.v2_job_json(p, j) for p, j in chunk]), headers=headers)

    def v2_describe_job(self, request: Request, job_id: str) -> Response:
        found = self.v2_find(job_id)
        if found is None or self.detail_missing():
            return self.v2_error(404, "Not found")
        return self.json(self.v2_job_json(*found))

    def v2_create_job(self, request: Request) -> Response:
        body = request_body(request)
        meta, spec = body.get("metadata") or {}, body.get("spec") or {}
        if not isinstance(meta, dict) or not meta.get("name"):
            return self.v2_error(422, "name can't be blank", "/metadata/name")
        project_id = (meta.get("project") or {}).get("id") if isinstance(meta.get("project"), dict) else None
        if project_id not in self.projects:
            return self.v2_error(422, "project does not exist", "/metadata/project/id")
        limit = spec.get("execution_time_limit", 3600)
        if not isinstance(limit, int) or limit <= 0:
            return self.v2_error(
                422, "execution_time_limit must be a positive number of seconds", "/spec/execution_time_limit"
            )
        holder, job = self.standalone_job(project_id, str(meta["name"]), spec, 20.0, time_limit=limit)
        return self.json(self.v2_job_json(holder, job))

    def v2_terminate_job(self, request: Request, job_id: str) -> Response:
        found = self.v2_find(job_id)
        if found is None:
            return self.v2_error(404, "Not found")
        found[0].stop_job(found[1], self.now())
        return self.json(self.v2_job_json(*found))

    def v2_log_events(self, request: Request, job_id: str) -> Response:
        from . import world

        found = self.v2_find(job_id)
        if found is None:
            return self.v2_error(404, "Not found")
        if found[1].self_hosted or self.all_logs_redirect:
            return self.log_redirect(request, found[1])
        return self.json({"events": world.log_events(found[1], self.now())})

    def v2_ssh_key(self, request: Request, job_id: str) -> Response:
        found = self.v2_find(job_id)
        if found is None:
            return self.v2_error(404, "Not found")
        if self.public_state(found[1]) != "RUNNING":
            return self.v2_error(422, "SSH key is available only for running jobs", "/id")
        return self.json({"key": FAKE_KEY.format(job_id[:8])})

    def v2_debug_job(self, request: Request, job_id: str) -> Response:
        found = self.v2_find(job_id)
        if found is None:
            return self.v2_error(404, "Not found")
        body = request_body(request)
        limit = body.get("execution_time_limit", 3600)
        if not isinstance(limit, int) or limit <= 0:
            return self.v2_error(
                422, "execution_time_limit must be a positive number of seconds", "/execution_time_limit"
            )
        agent = body.get("agent") if isinstance(body.get("agent"), dict) else {}
        machine = agent.get("machine") if isinstance(agent.get("machine"), dict) else None
        holder, job = self.debug_session(
            found[0].project_id,
            job_id,
            limit,
            machine or {"type": found[1].machine_type, "os_image": found[1].os_image},
        )
        return self.json(self.v2_job_json(holder, job))


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        kind, _, value = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        return max(int(value), 0) if kind == "o" else 0
    except (ValueError, UnicodeDecodeError):
        return 0
