"""The simulated Semaphore's write side for workflows, pipelines, promotions and YAML
validation (docs/providers/semaphore.md, "Workflows", "Pipelines", "Promotions"); mixed
into SemaphoreSimulator. A partial rebuild is refused, in the real server's words, for a
pipeline that passed or is not done.

Assumptions where the docs are silent:
- promoting a failed or still running pipeline without ``override=true`` answers 400
  with a JSON string; promotion names come from the project's promotions
  (``Production``, ``Staging``);
- a promotion named like one of the project's deployment targets adds a deployment to
  that target's history;
- YAML is "valid" when it parses as a mapping with ``version``, ``agent`` and ``blocks``."""

from __future__ import annotations

import yaml
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from .http import json_string, request_body

PROMOTIONS = ("Production", "Staging")


def truthy(value) -> bool:
    return value is True or str(value).lower() in ("true", "1", "yes", "on")


class WorkflowActionsSimMixin:
    def init_actions(self) -> None:
        self.rerun_tokens: dict[str, tuple[str, str]] = {}
        self.promotions: dict[str, list[dict]] = {}

    def actions_routes(self) -> list[Rule]:
        v1 = "/api/v1alpha"
        return [
            Rule(f"{v1}/plumber-workflows", endpoint="run_workflow", methods=["POST"]),
            Rule(f"{v1}/plumber-workflows/<wf_id>/reschedule", endpoint="rerun_workflow", methods=["POST"]),
            Rule(f"{v1}/plumber-workflows/<wf_id>/terminate", endpoint="stop_workflow", methods=["POST"]),
            Rule(f"{v1}/pipelines/<ppl_id>", endpoint="stop_pipeline", methods=["PATCH"]),
            Rule(f"{v1}/pipelines/<ppl_id>/partial_rebuild", endpoint="partial_rebuild", methods=["POST"]),
            Rule(f"{v1}/yaml", endpoint="validate_yaml", methods=["POST"]),
            Rule(f"{v1}/promotions", endpoint="list_promotions", methods=["GET"]),
            Rule(f"{v1}/promotions", endpoint="trigger_promotion", methods=["POST"]),
        ]

    # Workflows ----------------------------------------------------------------------------
    def run_workflow(self, request: Request) -> Response:
        params = request_body(request)
        project = self.projects.get(str(params.get("project_id", "")))
        if project is None:
            return (
                json_string("Missing required post parameter project_id.", 400)
                if not params.get("project_id")
                else self.text_error("Not Found", 404)
            )
        reference = str(params.get("reference") or "")
        if not reference:
            return json_string("Missing required post parameter reference.", 400)
        branch = reference.removeprefix("refs/heads/").removeprefix("refs/tags/")
        sha = str(params.get("commit_sha") or f"{self.rng('sha', reference, self.now()).getrandbits(160):040x}")
        wf = self.create_workflow(
            project,
            branch=branch,
            commit_sha=sha,
            created=self.now(),
            triggered_by="API",
            key=("api", len(self.workflows)),
            yml_file=str(params.get("pipeline_file") or ".semaphore/semaphore.yml"),
        )
        return self.json({"workflow_id": wf.id, "pipeline_id": wf.initial_ppl_id})

    def rerun_workflow(self, request: Request, wf_id: str) -> Response:
        wf = self.workflows.get(wf_id)
        if wf is None:
            return self.text_error("Not Found", 404)
        token = request.args.get("request_token") or request_body(request).get("request_token")
        if not token:
            return json_string("Missing required post parameter request_token.", 400)
        if token in self.rerun_tokens:  # the same request again: the same answer, nothing new
            new_wf, ppl = self.rerun_tokens[token]
            return self.json({"wf_id": new_wf, "ppl_id": ppl})
        project = self.projects[wf.project_id]
        first = self.pipelines[wf.initial_ppl_id]
        new = self.create_workflow(
            project,
            branch=wf.branch,
            commit_sha=wf.commit_sha,
            created=self.now(),
            triggered_by="API",
            key=("rerun", token),
            yml_file=first.yml_file,
            rerun_of=wf.id,
        )
        self.rerun_tokens[token] = (new.id, new.initial_ppl_id)
        return self.json({"wf_id": new.id, "ppl_id": new.initial_ppl_id})

    def stop_workflow(self, request: Request, wf_id: str) -> Response:
        wf = self.workflows.get(wf_id)
        if wf is None:
            return self.text_error("Not Found", 404)
        t = self.now()
        running = [self.pipelines[p] for p in wf.pipelines if self.pipelines[p].state(t) != "done"]
        for ppl in running:
            ppl.stop(t, "api")
        return self.json(f"Termination started for {len(running)} pipelines.")

    # Pipelines ----------------------------------------------------------------------------
    def stop_pipeline(self, request: Request, ppl_id: str) -> Response:
        ppl = self.pipelines.get(ppl_id)
        if ppl is None:
            return self.text_error("Not Found", 404)
        if request_body(request).get("terminate_request") is not True:
            return json_string("Value of 'terminate_request' field must be boolean value 'true'.", 400)
        ppl.stop(self.now(), "api")
        return self.json("Pipeline termination started.")

    def partial_rebuild(self, request: Request, ppl_id: str) -> Response:
        ppl = self.pipelines.get(ppl_id)
        if ppl is None:
            return self.text_error("Not Found", 404)
        token = request.args.get("request_token") or request_body(request).get("request_token")
        if not token:
            return json_string("Missing required post parameter request_token.", 400)
        if token in self.rerun_tokens:
            return self.json({"pipeline_id": self.rerun_tokens[token][1], "message": ""})
        t = self.now()
        if ppl.state(t) != "done":
            return json_string("Only pipelines which are in done state can be partial rebuilt.", 400)
        if ppl.result(t)[0] == "passed":
            return json_string("Pipelines which passed can not be partial rebuilt.", 400)
        wf = self.workflows[ppl.wf_id]
        new = self.create_pipeline(wf, created=self.now(), yml_file=ppl.yml_file, key=("rebuild", token), name=ppl.name)
        new.partial_rerun_of = ppl.id
        self.rerun_tokens[token] = (wf.id, new.id)
        return self.json({"pipeline_id": new.id, "message": ""})

    def validate_yaml(self, request: Request) -> Response:
        definition = request_body(request).get("yaml_definition")
        if not definition:
            return json_string("Missing required post parameter yaml_definition.", 400)
        try:
            doc = yaml.safe_load(str(definition))
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            line = f" at line {where.line + 1}" if where else ""
            return json_string(f"Invalid YAML{line}: {getattr(exc, 'problem', exc)}", 400)
        if not isinstance(doc, dict):
            return json_string("The pipeline definition must be a YAML mapping.", 400)
        missing = [key for key in ("version", "agent", "blocks") if key not in doc]
        if missing:
            return json_string(f"Required properties are missing: {', '.join(missing)}.", 400)
        if not isinstance(doc["blocks"], list) or not doc["blocks"]:
            return json_string("'blocks' must be a non-empty list.", 400)
        return self.json({"pipeline_id": "", "message": "YAML definition is valid."})

    # Promotions ---------------------------------------------------------------------------
    def list_promotions(self, request: Request) -> Response:
        ppl = self.pipelines.get(request.args.get("pipeline_id", ""))
        if ppl is None:
            return self.text_error("Not Found", 404)
        name = request.args.get("name")
        items = [p for p in reversed(self.promotions.get(ppl.id, [])) if not name or p["name"] == name]
        t = self.now()
        for item in items:
            target = self.pipelines.get(item["scheduled_pipeline_id"])
            if target is not None:
                state = target.state(t)
                item["status"] = target.result(t)[0] if state == "done" else "processing"
        chunk, headers = self.paginate(request, items, default_size=10)
        shown = [{**item, "status": self.odd_enum(item["status"], "something_new")} for item in chunk]
        return self.json(self.listing(shown), headers=headers)

    def trigger_promotion(self, request: Request) -> Response:
        params = request_body(request)
        ppl = self.pipelines.get(str(params.get("pipeline_id", "")))
        if ppl is None:
            return self.text_error("Not Found", 404)
        name = str(params.get("name") or "")
        if name not in PROMOTIONS:
            return json_string(f"Promotion target '{name}' is not defined in the pipeline.", 400)
        t = self.now()
        done_and_passed = ppl.state(t) == "done" and ppl.result(t)[0] == "passed"
        override = truthy(params.get("override"))
        if not done_and_passed and not override:
            return json_string("Triggering promotion with failed or unfinished pipeline requires 'override'.", 400)
        extra = {k: str(v) for k, v in params.items() if k not in ("pipeline_id", "name", "override")}
        wf = self.workflows[ppl.wf_id]
        new = self.create_pipeline(
            wf,
            created=t,
            yml_file=f".semaphore/{name.lower()}.yml",
            key=("promotion", ppl.id, name, len(self.promotions.get(ppl.id, []))),
            name=f"{name} deployment",
            promotion_of=ppl.id,
        )
        self.promotions.setdefault(ppl.id, []).append(
            {
                "name": name,
                "status": "processing",
                "triggered_by": self.api_user(),
                "override": override,
                "triggered_at": {"seconds": int(t), "nanos": 0},
                "scheduled_at": {"seconds": int(t), "nanos": 0},
                "scheduled_pipeline_id": new.id,
            }
        )
        self.promoted(ppl, name, new.id, extra)
        return self.json("Promotion successfully triggered.")

    def promoted(self, ppl, name: str, new_ppl_id: str, env: dict) -> None:
        """Add the promotion to the history of a deployment target of the same name."""
        for target in getattr(self, "targets", {}).values():
            if target.get("project_id") == ppl.project_id and target.get("name") == name:
                record = getattr(self, "record_deployment", None)
                if record:
                    record(target["id"], new_ppl_id, self.api_user(), [{"name": k, "value": v} for k, v in env.items()])

    def api_user(self) -> str:
        """The user whose token calls the API."""
        return getattr(self, "members", {}).get("semaphore-api") or self.uuid("user", "semaphore-api")

    def text_error(self, body: str, status: int) -> Response:
        return Response(body, status=status, mimetype="text/plain")


__all__ = ["PROMOTIONS", "WorkflowActionsSimMixin"]
