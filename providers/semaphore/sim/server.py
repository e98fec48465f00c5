"""A stateful Semaphore (API v1alpha, and the v2 jobs resource) on loopback, answering
as docs/providers/semaphore.md describes the real server: ``Token``/``Bearer`` auth with
a plain-text 401, an outdated ``sem`` refused with 400, bare-array lists paged by
``page``/``page_size`` with ``link`` headers (links start with ``http://``), the projects
list paged by 500 with ``x-page``/``x-has-more``, the three timestamp formats, lower-case
enums in pipeline describe and upper-case in lists, plain-text ``Not Found`` from the
authorization layer and handler errors as JSON strings. Jobs exist only once their block
is scheduled; jobs on self-hosted agents answer their log with a 302 to the log store
(``/api/v1/logs/<job>?jwt=``, on the same host, or ``log_redirect_to``).

Every listing, single-item endpoint, paged answer and enum goes through the fault helpers
of ``providers.base.sim`` (docs/providers/semaphore.md, "Faults"). ``truth()`` is what
the dashboard should hold once synced, from the world model.

Assumptions where the docs are silent (written down here, as the simulator is the
contract our client is tested against):
- lists are ordered newest first; ``page`` past the end is an empty array;
- ``created_after``/``created_before`` compare with ``>=``/``<`` on unix seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import re
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
PROJECTS_PAGE = 500
MAX_PROJECT_PAGE = 100
CLI_AGENT = re.compile(r"^SemaphoreCLI/(.*) \(.*\)")
CLI_VERSION = re.compile(r"^v(.*)\.(.*)\.(.*)")
MIN_CLI = (0, 30, 0)
OUTDATED = (
    "Call rejected because the client is outdated. "
    "To continue, upgrade Semaphore CLI with 'curl https://storage.googleapis.com/sem-cli-releases/get.sh | bash'."
)
NEUTRAL_PIPELINE = {"passed": "passed", "failed": "failed", "stopped": "canceled", "canceled": "canceled"}
EPILOGUES = ("epilogue_commands", "epilogue_always_commands", "epilogue_on_pass_commands", "epilogue_on_fail_commands")
NEUTRAL_JOB = {"PASSED": "passed", "FAILED": "failed", "STOPPED": "canceled"}


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
        # Where a self-hosted job's log is sent (None: the log store on our own host).
        self.log_redirect_to: str | None = None
        # Every job's log answers with the redirect, as for self-hosted agents.
        self.all_logs_redirect = False
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
                self_hosted = block_name == "Security scan"
                jobs.append(
                    JobPlan(
                        id=self.uuid("job", ppl_id, b, j),
                        name=job_name,
                        index=j,
                        start=job_start,
                        duration=rng.uniform(4, 30),
                        passes=rng.random() > 0.12,
                        commands=[f"make {block_name.lower().replace(' ', '-')}"],
                        machine_type="s1-linux-small" if self_hosted else "e1-standard-2",
                        os_image="" if self_hosted else "ubuntu2004",
                        scheduled=start,
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
            Rule("/api/v1/logs/<job_id>", endpoint="log_store", methods=["GET"]),
            *self.actions_routes(),
            *self.jobs_routes(),
            *self.agents_routes(),
            *self.deployments_routes(),
            *self.retention_routes(),
        ]

    def authenticate(self, request: Request) -> Response | None:
        if any(name.lower().startswith("x-semaphore") for name, _ in request.headers.items()):
            return text("Not Found", 404)
        if outdated_cli(request.headers.get("User-Agent", "")):
            return self.json({"message": OUTDATED}, status=400)
        if request.path.startswith("/api/v1/logs/"):
            return None  # the log store checks its own signed token
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme not in ("Token", "Bearer") or not token or token != self.token:
            return self.refused(request)
        return None

    def refused(self, request: Request) -> Response:
        return text("Unauthorized", 401)

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
        if page > 1 and self.page_repeats():
            chunk = items[(page - 2) * size : (page - 1) * size]
        if self.pages_endless():
            pages = max(pages, page + 1)

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
            "apiVersion": "v1alpha",
            "kind": "Project",
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
            body["result"] = self.odd_enum(case(result), case("something_new"))
            body["result_reason"] = case(reason)
        return body

    def block_json(self, ppl: Pipeline, block: BlockPlan) -> dict:
        t = self.now()
        state, result, reason = ppl.block_state(block, t)
        started = ppl.scheduled(block, t)
        body = {
            "block_id": self.uuid("block", ppl.id, block.name),
            "name": block.name,
            "build_req_id": self.uuid("build", ppl.id, block.name) if started else "",
            "state": self.odd_enum(state, "something_new"),
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
            "result": self.odd_enum(result),
        }

    def job_json(self, ppl: Pipeline, job: JobPlan) -> dict:
        """A v1alpha job. Created and updated times never run ahead of the clock or of
        each other; a job created through the API shows the spec it was sent."""
        t = self.now()
        status, result = job.status(t)
        running_or_done = status != "QUEUED"
        created = job.scheduled if job.scheduled is not None else ppl.created
        return {
            "metadata": {
                "name": job.name,
                "id": job.id,
                "create_time": int64(created),
                "update_time": int64(max(created, min(t, job.updated(t)))),
                "start_time": int64(job.start if running_or_done else None),
                "finish_time": int64(job.end if status == "FINISHED" else None),
            },
            "spec": self.job_spec(ppl, job),
            "status": {
                "result": self.odd_enum(result),
                "state": status,
                "agent": {
                    "ip": "" if job.self_hosted else "10.1.2.3",
                    "name": self.agent_of(job),
                    "ports": [] if job.self_hosted else [{"name": "ssh", "number": 30000}],
                }
                if running_or_done
                else None,
            },
        }

    def job_spec(self, ppl: Pipeline, job: JobPlan) -> dict:
        """What the job runs: as sent for a job created through the API, else the
        pipeline's (its env vars get the ``SEMAPHORE_*`` ones)."""
        if job.spec:
            sent = job.spec
            agent = sent.get("agent") if isinstance(sent.get("agent"), dict) else {}
            return {
                "project_id": ppl.project_id,
                "agent": {
                    "machine": {"type": job.machine_type, "os_image": job.os_image},
                    "containers": list(agent.get("containers") or []),
                    "image_pull_secrets": list(agent.get("image_pull_secrets") or []),
                },
                "secrets": list(sent.get("secrets") or []),
                "env_vars": list(sent.get("env_vars") or []),
                "files": list(sent.get("files") or []),
                "commands": job.commands,
                **{key: list(sent.get(key) or []) for key in EPILOGUES},
            }
        return {
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
        }

    def agent_of(self, job: JobPlan) -> str:
        """The self-hosted agent that ran the job (cloud agents have no name)."""
        if not job.self_hosted:
            return ""
        names = sorted(a.name for a in getattr(self, "sh_agents", {}).values() if a.type_name == job.machine_type)
        return names[int(self.rng("agent-of", job.id).random() * len(names))] if names else ""

    def visible_job(self, job_id: str) -> tuple[Pipeline, JobPlan] | None:
        """The job, if it exists yet (its block was scheduled)."""
        found = self.jobs.get(job_id)
        if found is None or not found[0].exists(found[1], self.now()):
            return None
        return found

    def truth(self) -> dict[str, dict[str, str]]:
        t = self.now()
        builds, jobs = {}, {}
        for ppl in self.pipelines.values():
            state = ppl.state(t)
            if state == "done":
                builds[ppl.id] = NEUTRAL_PIPELINE[ppl.result(t)[0]]
            elif state in ("running", "stopping"):
                builds[ppl.id] = "running"
            else:
                builds[ppl.id] = "queued"
            for block in ppl.blocks:
                if not ppl.scheduled(block, t):
                    continue
                for job in block.jobs:
                    status, result = job.status(t)
                    jobs[job.id] = NEUTRAL_JOB.get(result, "") if status == "FINISHED" else status.lower()
        return {"builds": builds, "jobs": jobs}

    # Endpoints -----------------------------------------------------------------------------
    def list_projects(self, request: Request) -> Response:
        raw = request.args.get("page")
        if raw is not None:
            try:
                number = int(raw)
            except ValueError:
                return self.json({"message": "page must be a number"}, status=400)
            if number < 1:
                return self.json({"message": "page must be at least 1"}, status=400)
            if number > MAX_PROJECT_PAGE:
                return self.json({"message": f"page must be at most {MAX_PROJECT_PAGE}"}, status=400)
        page = int(raw or 1)
        size = getattr(self, "projects_page_size", PROJECTS_PAGE)
        projects = sorted(self.projects.values(), key=lambda p: p.name)
        shown = page - 1 if page > 1 and self.page_repeats() else page
        chunk = projects[(shown - 1) * size : shown * size]
        more = page * size < len(projects) or self.pages_endless()
        return self.json(
            self.listing([self.project_json(p) for p in chunk]),
            headers={"x-page": str(page), "x-has-more": "true" if more else "false"},
        )

    def describe_project(self, request: Request, name: str) -> Response:
        for p in self.projects.values():
            if (p.name == name or p.id == name) and not self.detail_missing():
                return self.json(self.project_json(p))
        return self.json({"message": "Not found"}, status=404)

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
        return self.json(self.listing([self.workflow_json(w) for w in chunk]), headers=headers)

    def describe_workflow(self, request: Request, wf_id: str) -> Response:
        wf = self.workflows.get(wf_id)
        if wf is None or self.detail_missing():
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
        return self.json(self.listing([self.pipeline_json(p, upper=True) for p in chunk]), headers=headers)

    def describe_pipeline(self, request: Request, ppl_id: str) -> Response:
        ppl = self.pipelines.get(ppl_id)
        if ppl is None or self.detail_missing():
            return text("Not Found", 404)
        detailed = request.args.get("detailed", "false").lower() == "true"
        blocks = [self.block_json(ppl, b) for b in ppl.blocks] if detailed else []
        return self.json(self.listing({"pipeline": self.pipeline_json(ppl, upper=False), "blocks": blocks}, "blocks"))

    def topology(self, request: Request, ppl_id: str) -> Response:
        ppl = self.pipelines.get(ppl_id)
        if ppl is None or self.detail_missing():
            return text("Not Found", 404)
        return self.json(
            [{"name": b.name, "jobs": [j.name for j in b.jobs], "dependencies": b.deps} for b in ppl.blocks]
        )

    def describe_job(self, request: Request, job_id: str) -> Response:
        if not _looks_like_uuid(job_id):
            return self.json({"code": 3, "message": f"Job id {job_id} is invalid", "details": []}, status=400)
        found = self.visible_job(job_id)
        if found is None or self.detail_missing():
            return self.json({"code": 5, "message": f"Job {job_id} not found", "details": []}, status=404)
        return self.json(self.job_json(*found))

    def job_logs(self, request: Request, job_id: str) -> Response:
        found = self.visible_job(job_id)
        if found is None or self.detail_missing():
            return text("Not found", 404)
        _, job = found
        if job.self_hosted or self.all_logs_redirect:
            return self.log_redirect(request, job)
        events = world.log_events(job, self.now())
        if not events:
            return json_string("Job has not started yet, so it has no logs.", 404)
        return self.json({"events": events})

    def log_redirect(self, request: Request, job: JobPlan) -> Response:
        """Self-hosted agents' logs live in the log store: a signed URL on our own host,
        unless ``log_redirect_to`` sends it elsewhere."""
        where = self.log_redirect_to or f"http://{request.host}/api/v1/logs/{job.id}"
        return Response("", status=302, headers={"Location": f"{where}?jwt={self.log_token(job.id)}"})

    def log_token(self, job_id: str) -> str:
        return hmac.new(self.token.encode(), f"PULL:{job_id}".encode(), hashlib.sha256).hexdigest()

    def log_store(self, request: Request, job_id: str) -> Response:
        """The log store (loghub2): ``{"events", "next"}``, or plain text with ``raw=true``."""
        if not hmac.compare_digest(request.args.get("jwt", ""), self.log_token(job_id)):
            return text("Unauthorized", 401)
        found = self.jobs.get(job_id)
        if found is None:
            return text(f"Logs for {job_id} not found", 404)
        events = world.log_events(found[1], self.now())
        if request.args.get("raw") == "true":
            lines = [str(e.get("output", "")) for e in events if e.get("event") == "cmd_output"]
            return Response("".join(lines), mimetype="text/plain")
        finished = any(e.get("event") == "job_finished" for e in events)
        return self.json({"events": events, "next": None if finished else len(events)})


def outdated_cli(user_agent: str) -> bool:
    """The real server's check of ``sem``'s version, as it is written: any part below
    the minimum's part refuses the call."""
    found = CLI_AGENT.match(user_agent)
    if not found or found.group(1) == "dev":
        return False
    version = CLI_VERSION.match(found.group(1))
    if not version:
        return False
    try:
        major, minor, patch = (int(re.match(r"\d+", part).group()) for part in version.groups())
    except (AttributeError, ValueError):
        return False
    return major < MIN_CLI[0] or minor < MIN_CLI[1] or patch < MIN_CLI[2]


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
