"""A stateful Semaphore (API v1alpha) on loopback, as ``../shared/providers/semaphore.md``
describes it: ``Token``/``Bearer`` auth with a plain-text 401, bare-array lists paged by
``page``/``page_size`` with ``link``/``total`` headers (links start with ``http://``), the
three timestamp formats, lower-case enums in pipeline describe and upper-case in lists,
plain-text ``Not Found``/``Not found`` errors and handler errors as JSON strings.

Assumptions where the docs are silent (written down here, as the simulator is the
contract our client is tested against):
- lists are ordered newest first; ``page`` past the end is an empty array;
- ``created_after``/``created_before`` compare with ``>=``/``<`` on unix seconds;
- the v1alpha projects list pages by 30 with ``x-has-more``;
- jobs of a block that has not started are not listed yet (they get ids when scheduled).
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from providers.base.sim import Simulator

from . import world
from .actions import WorkflowActionsSimMixin
from .agents import AgentsSimMixin
from .deployments import DeploymentsSimMixin
from .http import json_string, text
from .jobs import JobsSimMixin
from .retention import RetentionSimMixin
from .world import BlockPlan, JobPlan, Pipeline, Project, Workflow

V1 = "/api/v1alpha"


def describe_time(ts: float | None) -> str:
    if ts is None:
        return "1970-01-01 00:00:00.000000Z"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%fZ")


def proto_time(ts: float) -> dict:
    return {"seconds": int(ts), "nanos": round((ts - int(ts)) * 1e9) // 1000 * 1000}


def int64(ts: float | None) -> str:
    return str(int(ts)) if ts else "0"


def unix_param(request: Request, name: str) -> float | None:
    value = request.args.get(name)
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError:
        return None


class SemaphoreSimulator(
    WorkflowActionsSimMixin, JobsSimMixin, AgentsSimMixin, DeploymentsSimMixin, RetentionSimMixin, Simulator
):
    kind = "semaphore"
    org = "acme"

    def __init__(self, token: str, *, jobs_v2: bool = True, **kwargs):
        self.jobs_v2 = jobs_v2
        super().__init__(token, **kwargs)
        self.projects: dict[str, Project] = {}
        self.workflows: dict[str, Workflow] = {}
        self.pipelines: dict[str, Pipeline] = {}
        self.jobs: dict[str, tuple[Pipeline, JobPlan]] = {}
        self.start = self.now()
        for i in range(self.scale.projects):
            name = world.PROJECT_NAMES[i % len(world.PROJECT_NAMES)]
            if i >= len(world.PROJECT_NAMES):
                name = f"{name}-{i // len(world.PROJECT_NAMES)}"
            project = Project(id=self.uuid("project", i), name=name, index=i)
            self.projects[project.id] = project
        self.advance()
        self.init_actions()
        self.init_jobs()
        self.init_agents()
        self.init_deployments()
        self.init_retention()

    # World ---------------------------------------------------------------------------
    def seeded_created_at(self, project: Project, k: int) -> float:
        rng = self.rng("wf-time", project.index, k)
        history = self.scale.builds
        if k < history:
            return self.start - (history - k) * world.HISTORY_SPACING + rng.uniform(0, 60)
        every = self.scale.arrival_every
        stagger = every * project.index / max(len(self.projects), 1)
        return self.start + (k - history + 1) * every + stagger

    def advance(self) -> None:
        """Create the seeded workflows whose time has come."""
        now = self.now()
        for project in self.projects.values():
            while True:
                k = project.generated
                if k >= self.scale.builds and self.scale.arrival_every <= 0:
                    break
                created = self.seeded_created_at(project, k)
                if created > now:
                    break
                rng = self.rng("wf", project.index, k)
                self.create_workflow(
                    project,
                    branch=rng.choice(world.BRANCHES),
                    commit_sha=f"{rng.getrandbits(160):040x}",
                    created=created,
                    triggered_by="HOOK",
                    key=("seeded", project.index, k),
                )
                project.generated += 1

    def create_workflow(
        self,
        project: Project,
        *,
        branch: str,
        commit_sha: str,
        created: float,
        triggered_by: str,
        key: tuple,
        yml_file: str = ".semaphore/semaphore.yml",
        rerun_of: str = "",
    ) -> Workflow:
        wf = Workflow(
            id=self.uuid("wf", *key),
            project_id=project.id,
            branch=branch,
            commit_sha=commit_sha,
            created=created,
            requester_id=self.uuid("user", key[-1] if key else 0),
            triggered_by=triggered_by,
            rerun_of=rerun_of,
        )
        self.workflows[wf.id] = wf
        project.workflows.append(wf.id)
        self.create_pipeline(wf, created=created, yml_file=yml_file, key=key)
        return wf

    def create_pipeline(
        self, wf: Workflow, *, created: float, yml_file: str, key: tuple, name: str = "", promotion_of: str = ""
    ) -> Pipeline:
        ppl_id = self.uuid("ppl", *key)
        rng = self.rng("plan", ppl_id)
        run_start = created + rng.uniform(1.5, 4.0)
        total_jobs = max(1, self.scale.jobs + rng.randint(-1, 1))
        n_blocks = min(total_jobs, rng.randint(1, 3))
        names = rng.sample(world.BLOCK_NAMES, n_blocks)
        blocks: list[BlockPlan] = []
        block_end: dict[str, tuple[float | None, bool]] = {}
        for b, block_name in enumerate(names):
            deps = [names[b - 1]] if b else []
            dep_state = [block_end[d] for d in deps]
            if any(end is None or not ok for end, ok in dep_state):
                start = None
            else:
                start = max([end for end, _ in dep_state], default=run_start)
            jobs_here = total_jobs // n_blocks + (1 if b < total_jobs % n_blocks else 0)
            jobs = []
            for j in range(jobs_here):
                job_name = block_name if jobs_here == 1 else f"{block_name} - {j + 1}/{jobs_here}"
                job_start = (start or 0) + rng.uniform(0.5, 2.0)
                jobs.append(
                    JobPlan(
                        id=self.uuid("job", ppl_id, b, j),
                        name=job_name,
                        index=j,
                        start=job_start,
                        duration=rng.uniform(4, 30),
                        passes=rng.random() > 0.12,
                        commands=[f"make {block_name.lower().replace(' ', '-')}"],
                    )
                )
            block = BlockPlan(name=block_name, deps=deps, jobs=jobs, start=start)
            blocks.append(block)
            end = max((j.start + j.duration for j in jobs), default=start) if start is not None else None
            block_end[block_name] = (end, block.passes())
        rng_msg = self.rng("msg", wf.id)
        ppl = Pipeline(
            id=ppl_id,
            wf_id=wf.id,
            project_id=wf.project_id,
            name=name or "Pipeline",
            yml_file=yml_file,
            branch=wf.branch,
            commit_sha=wf.commit_sha,
            commit_message=rng_msg.choice(world.COMMIT_MESSAGES),
            created=created,
            run_start=run_start,
            blocks=blocks,
            requester_id=wf.requester_id,
            promotion_of=promotion_of,
        )
        self.pipelines[ppl.id] = ppl
        wf.pipelines.append(ppl.id)
        for block in blocks:
            for job in block.jobs:
                self.jobs[job.id] = (ppl, job)
        return ppl

    # HTTP --------------------------------------------------------------------------------
    def routes(self) -> list[Rule]:
        return [
            Rule(f"{V1}/projects", endpoint="list_projects", methods=["GET"]),
            Rule(f"{V1}/projects/<name>", endpoint="describe_project", methods=["GET"]),
            Rule(f"{V1}/plumber-workflows", endpoint="list_workflows", methods=["GET"]),
            Rule(f"{V1}/plumber-workflows/<wf_id>", endpoint="describe_workflow", methods=["GET"]),
            Rule(f"{V1}/pipelines", endpoint="list_pipelines", methods=["GET"]),
            Rule(f"{V1}/pipelines/<ppl_id>", endpoint="describe_pipeline", methods=["GET"]),
            Rule(f"{V1}/pipelines/<ppl_id>/describe_topology", endpoint="topology", methods=["GET"]),
            Rule(f"{V1}/jobs/<job_id>", endpoint="describe_job", methods=["GET"]),
            Rule(f"{V1}/logs/<job_id>", endpoint="job_logs", methods=["GET"]),
            *self.actions_routes(),
            *self.jobs_routes(),
            *self.agents_routes(),
            *self.deployments_routes(),
            *self.retention_routes(),
        ]

    def authenticate(self, request: Request) -> Response | None:
        if any(name.lower().startswith("x-semaphore") for name, _ in request.headers.items()):
            return text("Not Found", 404)
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme not in ("Token", "Bearer") or not token or token != self.token:
            return text("Unauthorized", 401)
        return None

    def not_found(self, request: Request) -> Response:
        return text("oops", 404)

    def _respond(self, request: Request) -> Response:
        with self.lock:
            self.advance()
        return super()._respond(request)

    def paginate(self, request: Request, items: list, default_size: int = 30) -> tuple[list, dict]:
        page = _positive_int(request.args.get("page"), 1)
        size = _positive_int(request.args.get("page_size"), default_size)
        total = len(items)
        pages = max(1, -(-total // size))
        chunk = items[(page - 1) * size : page * size]

        def link(n: int) -> str:
            params = {k: v for k, v in request.args.items()}
            params.update(page=str(n), page_size=str(size))
            return f"<http://{request.host}{request.path}?{urlencode(sorted(params.items()))}>"

        rels = []
        if page < pages:
            rels.append(f'{link(page + 1)}; rel="next"')
        if page > 1:
            rels.append(f'{link(page - 1)}; rel="prev"')
        rels += [f'{link(1)}; rel="first"', f'{link(pages)}; rel="last"']
        headers = {
            "link": ", ".join(rels),
            "page-number": str(page),
            "per-page": str(size),
            "total": str(total),
            "total-pages": str(pages),
        }
        return chunk, headers

    # Serialisers ---------------------------------------------------------------------------
    def project_json(self, p: Project) -> dict:
        return {
            "metadata": {
                "name": p.name,
                "id": p.id,
                "owner_id": self.uuid("owner"),
                "description": f"The {p.name} service",
            },
            "spec": {
                "repository": {"url": f"git@github.com:{self.org}/{p.name}.git", "name": p.name, "owner": self.org},
                "visibility": "private",
            },
        }

    def workflow_json(self, wf: Workflow) -> dict:
        return {
            "wf_id": wf.id,
            "requester_id": wf.requester_id,
            "project_id": wf.project_id,
            "initial_ppl_id": wf.initial_ppl_id,
            "hook_id": self.uuid("hook", wf.id),
            "created_at": proto_time(wf.created),
            "commit_sha": wf.commit_sha,
            "branch_name": wf.branch,
            "branch_id": self.uuid("branch", wf.project_id, wf.branch),
            "triggered_by": wf.triggered_by,
            "rerun_of": wf.rerun_of,
            "repository_id": self.uuid("repo", wf.project_id),
            "organization_id": self.uuid("org"),
        }

    def pipeline_json(self, ppl: Pipeline, *, upper: bool) -> dict:
        t = self.now()
        state = ppl.state(t)
        case = str.upper if upper else str.lower
        body = {
            "ppl_id": ppl.id,
            "wf_id": ppl.wf_id,
            "project_id": ppl.project_id,
            "name": ppl.name,
            "yaml_file_name": ppl.yml_file.rsplit("/", 1)[-1],
            "working_directory": ppl.yml_file.rsplit("/", 1)[0],
            "branch_name": ppl.branch,
            "commit_sha": ppl.commit_sha,
            "commit_message": ppl.commit_message,
            "state": self.odd_enum(case(state), case("something_new")),
            "created_at": proto_time(ppl.created) if upper else describe_time(ppl.created),
            "terminate_request": "stop" if ppl.terminated_at is not None else "",
            "terminated_by": ppl.terminated_by,
            "hook_id": self.uuid("hook", ppl.wf_id),
            "branch_id": self.uuid("branch", ppl.project_id, ppl.branch),
            "error_description": "",
            "switch_id": self.uuid("switch", ppl.id),
            "snapshot_id": "",
            "promotion_of": ppl.promotion_of,
            "partial_rerun_of": ppl.partial_rerun_of,
            "repository_id": self.uuid("repo", ppl.project_id),
            "organization_id": self.uuid("org"),
            "triggerer": {"ppl_triggered_by": "workflow", "requester_id": ppl.requester_id},
        }
        if not upper:
            body.update(
                {
                    "pending_at": describe_time(ppl.created + 0.5),
                    "queuing_at": describe_time(ppl.created + 1.0),
                    "running_at": describe_time(ppl.run_start if t >= ppl.run_start else None),
                    "stopping_at": describe_time(ppl.terminated_at),
                    "done_at": describe_time(ppl.end if state == "done" else None),
                }
            )
        if state == "done":
            result, reason = ppl.result(t)
            body["result"] = case(result)
            body["result_reason"] = case(reason) if reason else ""
        return body

    def block_json(self, ppl: Pipeline, block: BlockPlan) -> dict:
        t = self.now()
        state, result, reason = ppl.block_state(block, t)
        started = block.start is not None and t >= block.start
        body = {
            "block_id": self.uuid("block", ppl.id, block.name),
            "name": block.name,
            "build_req_id": self.uuid("build", ppl.id, block.name) if started else "",
            "state": state,
            "error_description": "",
            "jobs": [self.block_job_json(job, t) for job in block.jobs] if started else [],
        }
        if state == "done":
            body.update(result=result, result_reason=reason)
        return body

    def block_job_json(self, job: JobPlan, t: float) -> dict:
        status, result = job.status(t)
        return {
            "name": job.name,
            "index": job.index,
            "job_id": job.id,
            "status": self.odd_enum(status),
            "result": result,
        }

    def job_json(self, ppl: Pipeline, job: JobPlan) -> dict:
        t = self.now()
        status, result = job.status(t)
        state = {"QUEUED": "QUEUED", "RUNNING": "RUNNING", "FINISHED": "FINISHED"}[status]
        running_or_done = status != "QUEUED"
        return {
            "metadata": {
                "name": job.name,
                "id": job.id,
                "create_time": int64(ppl.created + 1),
                "update_time": int64(min(t, job.end)),
                "start_time": int64(job.start if running_or_done else None),
                "finish_time": int64(job.end if status == "FINISHED" else None),
            },
            "spec": {
                "project_id": ppl.project_id,
                "agent": {
                    "machine": {"type": job.machine_type, "os_image": job.os_image},
                    "containers": [],
                    "image_pull_secrets": [],
                },
                "secrets": [{"name": "DOCKERHUB_USERNAME"}, {"name": "DOCKERHUB_PASSWORD"}],
                "env_vars": [
                    {"name": "SEMAPHORE_WORKFLOW_ID", "value": ppl.wf_id},
                    {"name": "SEMAPHORE_PIPELINE_ID", "value": ppl.id},
                    {"name": "SEMAPHORE_GIT_BRANCH", "value": ppl.branch},
                    {"name": "SEMAPHORE_GIT_SHA", "value": ppl.commit_sha},
                ],
                "files": [],
                "commands": job.commands,
                "epilogue_commands": [],
                "epilogue_always_commands": ["echo 'Job finished'"],
                "epilogue_on_pass_commands": [],
                "epilogue_on_fail_commands": ["cache store"],
            },
            "status": {
                "result": self.odd_enum(result),
                "state": state,
                "agent": {"ip": "10.1.2.3", "name": "", "ports": [{"name": "ssh", "number": 30000}]}
                if running_or_done
                else None,
            },
        }

    # Endpoints -----------------------------------------------------------------------------
    def list_projects(self, request: Request) -> Response:
        projects = sorted(self.projects.values(), key=lambda p: p.name)
        page = _positive_int(request.args.get("page"), 1)
        chunk = projects[(page - 1) * 30 : page * 30]
        more = page * 30 < len(projects)
        return self.json([self.project_json(p) for p in chunk], headers={"x-has-more": "true" if more else "false"})

    def describe_project(self, request: Request, name: str) -> Response:
        for p in self.projects.values():
            if p.name == name or p.id == name:
                return self.json(self.project_json(p))
        return text("Not Found", 404)

    def list_workflows(self, request: Request) -> Response:
        project = self.projects.get(request.args.get("project_id", ""))
        if project is None:
            return text("Not Found", 404)
        branch = request.args.get("branch_name")
        after, before = unix_param(request, "created_after"), unix_param(request, "created_before")
        wfs = [self.workflows[w] for w in reversed(project.workflows)]
        wfs = [
            w
            for w in wfs
            if (not branch or w.branch == branch)
            and (after is None or w.created >= after)
            and (before is None or w.created < before)
        ]
        wfs.sort(key=lambda w: w.created, reverse=True)
        chunk, headers = self.paginate(request, wfs)
        return self.json([self.workflow_json(w) for w in chunk], headers=headers)

    def describe_workflow(self, request: Request, wf_id: str) -> Response:
        wf = self.workflows.get(wf_id)
        if wf is None:
            return text("Not Found", 404)
        return self.json({"workflow": self.workflow_json(wf)})

    def list_pipelines(self, request: Request) -> Response:
        project_id, wf_id = request.args.get("project_id"), request.args.get("wf_id")
        if not project_id and not wf_id:
            return text("Not Found", 404)
        if wf_id:
            wf = self.workflows.get(wf_id)
            if wf is None or (project_id and wf.project_id != project_id):
                return text("Not Found", 404)
            ppls = [self.pipelines[p] for p in wf.pipelines]
        else:
            project = self.projects.get(project_id or "")
            if project is None:
                return text("Not Found", 404)
            ppls = [self.pipelines[p] for w in project.workflows for p in self.workflows[w].pipelines]
        t = self.now()
        args = request.args
        filters = {
            name: unix_param(request, name) for name in ("created_after", "created_before", "done_after", "done_before")
        }

        def keep(p: Pipeline) -> bool:
            done = p.end if p.state(t) == "done" else None
            return (
                (not args.get("branch_name") or p.branch == args["branch_name"])
                and (
                    not args.get("yml_file_path")
                    or p.yml_file == args["yml_file_path"]
                    or p.yml_file.endswith("/" + args["yml_file_path"])
                )
                and (filters["created_after"] is None or p.created >= filters["created_after"])
                and (filters["created_before"] is None or p.created < filters["created_before"])
                and (filters["done_after"] is None or (done is not None and done >= filters["done_after"]))
                and (filters["done_before"] is None or (done is not None and done < filters["done_before"]))
            )

        ppls = sorted(filter(keep, ppls), key=lambda p: p.created, reverse=True)
        chunk, headers = self.paginate(request, ppls)
        return self.json([self.pipeline_json(p, upper=True) for p in chunk], headers=headers)

    def describe_pipeline(self, request: Request, ppl_id: str) -> Response:
        ppl = self.pipelines.get(ppl_id)
        if ppl is None:
            return text("Not Found", 404)
        detailed = request.args.get("detailed", "false").lower() == "true"
        blocks = [self.block_json(ppl, b) for b in ppl.blocks] if detailed else []
        return self.json({"pipeline": self.pipeline_json(ppl, upper=False), "blocks": blocks})

    def topology(self, request: Request, ppl_id: str) -> Response:
        ppl = self.pipelines.get(ppl_id)
        if ppl is None:
            return text("Not Found", 404)
        return self.json(
            [{"name": b.name, "jobs": [j.name for j in b.jobs], "dependencies": b.deps} for b in ppl.blocks]
        )

    def describe_job(self, request: Request, job_id: str) -> Response:
        if not _looks_like_uuid(job_id):
            return self.json({"code": 3, "message": f"Job id {job_id} is invalid", "details": []}, status=400)
        found = self.jobs.get(job_id)
        if found is None:
            return self.json({"code": 5, "message": f"Job {job_id} not found", "details": []}, status=404)
        return self.json(self.job_json(*found))

    def job_logs(self, request: Request, job_id: str) -> Response:
        found = self.jobs.get(job_id)
        if found is None:
            return text("Not found", 404)
        _, job = found
        events = world.log_events(job, self.now())
        if not events:
            return json_string("Job has not started yet, so it has no logs.", 404)
        return self.json({"events": events})


def _positive_int(value: str | None, default: int) -> int:
    try:
        n = int(value or "")
    except ValueError:
        return default
    return n if n > 0 else default


def _looks_like_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


__all__ = ["SemaphoreSimulator"]
