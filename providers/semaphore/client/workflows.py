"""Projects, workflows, pipelines, promotions and YAML validation (docs/providers/
semaphore.md, "Projects", "Workflows", "Pipelines", "Promotions")."""

from __future__ import annotations

from typing import Any

from providers.base.errors import BadResponse
from providers.base.parse import obj, text

V1 = "/api/v1alpha"
PIPELINES_PAGE = 30
PROMOTIONS_PAGE = 10
# A workflow's pipelines (initial, promotions, reruns) fit in a few pages.
WORKFLOW_PAGES = 5


def unix_filters(filters: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in filters.items() if v not in (None, "")}


class WorkflowCalls:
    # Projects ---------------------------------------------------------------------------
    def projects_page(self, page: int | None) -> tuple[list[dict], int | None]:
        """One page of the projects list (500 a page, ``x-has-more``)."""
        number = page or 1
        response = self.get(f"{V1}/projects", params={"page": number})
        items = self.expect(self.parse_json(response), list, "the projects list")
        more = response.headers.get("x-has-more", "").lower() == "true"
        if more and not items:
            raise BadResponse(f"Semaphore sent an empty page {number} of projects that says more follow.")
        return [i if isinstance(i, dict) else {} for i in items], number + 1 if more else None

    def projects(self) -> list[dict]:
        return self.collect(self.projects_page, what="projects")

    # Workflows ----------------------------------------------------------------------------
    def workflows_page(self, project_id: str, page: int | None = None, **filters: Any) -> tuple[list[dict], int | None]:
        """``branch_name``, ``created_after``/``created_before`` (unix seconds) filter."""
        params = {"project_id": project_id, "page_size": PIPELINES_PAGE, **unix_filters(filters)}
        return self.numbered_page(f"{V1}/plumber-workflows", params, page, "workflows")

    def workflow(self, wf_id: str) -> dict:
        body = self.expect(self.get_json(f"{V1}/plumber-workflows/{wf_id}"), dict, "the workflow")
        return self.expect(body.get("workflow"), dict, "the workflow's 'workflow'")

    def run_workflow(self, project_id: str, reference: str, commit_sha: str = "", pipeline_file: str = "") -> dict:
        data = {"project_id": project_id, "reference": reference}
        if commit_sha:
            data["commit_sha"] = commit_sha
        if pipeline_file:
            data["pipeline_file"] = pipeline_file
        return self.expect(
            self.parse_json(self.request("POST", f"{V1}/plumber-workflows", data=data)), dict, "the run-workflow answer"
        )

    def rerun_workflow(self, wf_id: str, request_token: str) -> dict:
        # The token makes the call idempotent, so it is safe to retry.
        response = self.request(
            "POST",
            f"{V1}/plumber-workflows/{wf_id}/reschedule",
            params={"request_token": request_token},
            idempotent=True,
        )
        return self.expect(self.parse_json(response), dict, "the rerun answer")

    def stop_workflow(self, wf_id: str) -> str:
        return text(self.parse_json(self.request("POST", f"{V1}/plumber-workflows/{wf_id}/terminate")))

    # Pipelines ----------------------------------------------------------------------------
    def pipelines_page(
        self, project_id: str = "", page: int | None = None, *, wf_id: str = "", **filters: Any
    ) -> tuple[list[dict], int | None]:
        """Newest first. ``branch_name``, ``yml_file_path``, ``created_after``,
        ``created_before``, ``done_after``, ``done_before`` (unix seconds) filter; one of
        ``project_id`` and ``wf_id`` is required."""
        params = {"page_size": PIPELINES_PAGE, **unix_filters({"project_id": project_id, "wf_id": wf_id, **filters})}
        return self.numbered_page(f"{V1}/pipelines", params, page, "pipelines")

    def workflow_pipelines(self, wf_id: str) -> list[dict]:
        return self.collect(
            lambda page: self.pipelines_page(wf_id=wf_id, page=page),
            what="the workflow's pipelines",
            max_pages=WORKFLOW_PAGES,
        )

    def pipeline(self, ppl_id: str, detailed: bool = True) -> dict:
        body = self.get_json(f"{V1}/pipelines/{ppl_id}", params={"detailed": str(detailed).lower()})
        return self.expect(body, dict, "the pipeline")

    def topology(self, ppl_id: str) -> list:
        return self.expect(self.get_json(f"{V1}/pipelines/{ppl_id}/describe_topology"), list, "the topology")

    def stop_pipeline(self, ppl_id: str) -> str:
        response = self.request("PATCH", f"{V1}/pipelines/{ppl_id}", json={"terminate_request": True})
        return text(self.parse_json(response))

    def partial_rebuild(self, ppl_id: str, request_token: str) -> dict:
        response = self.request(
            "POST", f"{V1}/pipelines/{ppl_id}/partial_rebuild", params={"request_token": request_token}, idempotent=True
        )
        return self.expect(self.parse_json(response), dict, "the rebuild answer")

    def validate_yaml(self, definition: str) -> str:
        body = self.parse_json(self.request("POST", f"{V1}/yaml", json={"yaml_definition": definition}))
        return text(obj(body).get("message")) or "YAML definition is valid."

    # Promotions ---------------------------------------------------------------------------
    def promotions_page(self, ppl_id: str, page: int | None = None) -> tuple[list[dict], int | None]:
        params = {"pipeline_id": ppl_id, "page_size": PROMOTIONS_PAGE}
        return self.numbered_page(f"{V1}/promotions", params, page, "promotions")

    def promotions(self, ppl_id: str, max_pages: int | None = None) -> list[dict]:
        """Every promotion of the pipeline, newest first, through all pages."""
        return self.collect(lambda page: self.promotions_page(ppl_id, page), what="promotions", max_pages=max_pages)

    def promote(self, ppl_id: str, name: str, override: bool, parameters: dict[str, str]) -> str:
        data = {**parameters, "pipeline_id": ppl_id, "name": name, "override": str(override).lower()}
        return text(self.parse_json(self.request("POST", f"{V1}/promotions", data=data)))
