"""Semaphore workflows, pipelines, promotions and YAML validation: the calls and the
buttons (semaphore.md sections 5-7)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django import forms

from dashboard.states import State
from providers.base.adapter import Action
from providers.base.errors import BadResponse
from providers.base.forms import ActionForm, KeyValueField
from providers.base.parse import obj, text, timestamp
from providers.base.records import ActionResult, Batch

V1 = "/api/v1alpha"
SHA = re.compile(r"^[0-9a-fA-F]{7,40}$")


class WorkflowsClientMixin:
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

    def promotions(self, ppl_id: str) -> list:
        body, _ = self.page(f"{V1}/promotions", {"pipeline_id": ppl_id, "page_size": 50})
        return body

    def promote(self, ppl_id: str, name: str, override: bool, parameters: dict[str, str]) -> str:
        data = {**parameters, "pipeline_id": ppl_id, "name": name, "override": str(override).lower()}
        return text(self.parse_json(self.request("POST", f"{V1}/promotions", data=data)))

    def search_pipelines(self, project_id: str, **filters: Any) -> tuple[list, bool]:
        """The pipelines list with every documented filter (branch_name, yml_file_path,
        created/done after/before as unix seconds)."""
        return self.pipelines(project_id, **filters)


def git_reference(value: str) -> str:
    """A branch name becomes ``refs/heads/<branch>``; full references pass through."""
    value = value.strip()
    return value if value.startswith("refs/") else f"refs/heads/{value}"


class RunWorkflowForm(ActionForm):
    reference = forms.CharField(max_length=255, help_text="A branch (main), or refs/tags/v1.0, refs/pull/123")
    commit_sha = forms.CharField(max_length=40, required=False, help_text="Optional: a commit on that reference")
    pipeline_file = forms.CharField(max_length=255, required=False, initial=".semaphore/semaphore.yml")

    def clean_reference(self) -> str:
        ref = git_reference(self.cleaned_data["reference"])
        if " " in ref or ref.endswith("/"):
            raise forms.ValidationError("That is not a git reference.")
        return ref

    def clean_commit_sha(self) -> str:
        sha = self.cleaned_data["commit_sha"].strip()
        if sha and not SHA.match(sha):
            raise forms.ValidationError("A commit SHA is 7 to 40 hexadecimal characters.")
        return sha


class IdempotentForm(ActionForm):
    """Carries a token made when the button is drawn: pressing twice sends the same
    token, and Semaphore starts one workflow, not two."""

    request_token = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["request_token"].initial = str(uuid.uuid4())


class PromotionForm(ActionForm):
    name = forms.CharField(max_length=255, help_text="The promotion's name in the pipeline YAML, e.g. Production")
    parameters = KeyValueField(required=False, label="Parameters")
    override = forms.BooleanField(required=False, label="Override: promote although the pipeline did not pass")

    def clean(self):
        data = super().clean()
        build = self.target
        if build is not None and build.state != State.PASSED and not data.get("override"):
            situation = "is still running" if not build.finished else f"ended {build.state}"
            raise forms.ValidationError(
                f"This pipeline {situation}. Tick override to confirm you want to promote it anyway."
            )
        return data


class YamlForm(ActionForm):
    yaml_definition = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 16, "spellcheck": "false"}), label="Pipeline YAML", max_length=500_000
    )


def _unfinished(build) -> bool:
    return not build.finished


WORKFLOW_ACTIONS = (
    Action(
        "run_workflow",
        "Run workflow",
        "project",
        form=RunWorkflowForm,
        help="Starts a workflow on a branch, tag or pull request.",
    ),
    Action(
        "rerun_workflow",
        "Rerun",
        "build",
        form=IdempotentForm,
        help="Starts the whole workflow again on the same commit.",
    ),
    Action(
        "partial_rebuild",
        "Rebuild failed jobs",
        "build",
        form=IdempotentForm,
        applies=lambda b: b.finished and b.state != State.PASSED,
    ),
    Action("stop_pipeline", "Stop pipeline", "build", destructive=True, applies=_unfinished),
    Action(
        "stop_workflow",
        "Stop workflow",
        "build",
        destructive=True,
        applies=_unfinished,
        help="Stops every running pipeline of this workflow.",
    ),
    Action("promote", "Promote", "build", form=PromotionForm),
    Action(
        "validate_yaml",
        "Validate YAML",
        "connection",
        form=YamlForm,
        help="Semaphore checks a pipeline definition without running it.",
    ),
)


class PipelineSearchForm(forms.Form):
    branch_name = forms.CharField(required=False, max_length=255, label="Branch")
    yml_file_path = forms.CharField(required=False, max_length=255, label="YAML file")
    created_after = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    created_before = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    done_after = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    done_before = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    def filters(self) -> dict:
        data = self.cleaned_data
        return {k: (int(v.timestamp()) if hasattr(v, "timestamp") else v) for k, v in data.items() if v}


class WorkflowsAdapterMixin:
    def pipeline_search_context(self, project, request) -> dict:
        """Semaphore's own pipelines list for the project, with every documented filter."""
        form = PipelineSearchForm(request.GET if request and "search" in request.GET else None)
        if not form.is_bound:
            return {"search_form": form}
        if not form.is_valid():
            return {"search_form": form, "search_error": "Some filters are not valid dates."}
        found, more = self.client.search_pipelines(project.external_id, page_size=30, **form.filters())
        rows = [
            {
                "id": text(obj(p).get("ppl_id")),
                "name": text(obj(p).get("name")),
                "branch": text(obj(p).get("branch_name")),
                "state": text(obj(p).get("state")),
                "result": text(obj(p).get("result")),
                "yml": text(obj(p).get("yaml_file_name")),
                "created": timestamp(obj(p).get("created_at")),
            }
            for p in found
        ]
        return {"search_form": form, "search_rows": rows, "search_more": more}

    def _new_build_path(self, ppl_id: str) -> str:
        from django.urls import reverse

        return reverse("build", args=[self.connection.kind, self.connection.slug, ppl_id])

    def _fresh(self, ppl_id: str) -> Batch | None:
        """The pipeline as Semaphore describes it now, to store at once."""
        batch = Batch()
        record = self.attempt(batch, f"pipeline {ppl_id}", self.describe, ppl_id)
        if record:
            batch.builds.append(record)
        return batch

    def do_run_workflow(self, project, params: dict, user) -> ActionResult:
        answer = self.client.run_workflow(
            project.external_id, params["reference"], params.get("commit_sha", ""), params.get("pipeline_file", "")
        )
        ppl_id = text(answer.get("pipeline_id"))
        if not ppl_id:
            raise BadResponse("Semaphore started a workflow but did not say which pipeline.")
        return ActionResult(
            f"Workflow {text(answer.get('workflow_id'))} started on {params['reference']}.",
            refresh=self._fresh(ppl_id),
            redirect=self._new_build_path(ppl_id),
        )

    def do_rerun_workflow(self, build, params: dict, user) -> ActionResult:
        answer = self.client.rerun_workflow(build.group_id, params["request_token"])
        ppl_id = text(answer.get("ppl_id"))
        return ActionResult(
            "The workflow was started again.",
            refresh=self._fresh(ppl_id) if ppl_id else None,
            redirect=self._new_build_path(ppl_id) if ppl_id else None,
        )

    def do_partial_rebuild(self, build, params: dict, user) -> ActionResult:
        answer = self.client.partial_rebuild(build.external_id, params["request_token"])
        ppl_id = text(answer.get("pipeline_id"))
        return ActionResult(
            "The failed jobs are running again.",
            refresh=self._fresh(ppl_id) if ppl_id else None,
            redirect=self._new_build_path(ppl_id) if ppl_id else None,
        )

    def do_stop_pipeline(self, build, params: dict, user) -> ActionResult:
        message = self.client.stop_pipeline(build.external_id)
        return ActionResult(message or "Pipeline termination started.", refresh=self._fresh(build.external_id))

    def do_stop_workflow(self, build, params: dict, user) -> ActionResult:
        message = self.client.stop_workflow(build.group_id)
        return ActionResult(message or "Workflow termination started.", refresh=self._fresh(build.external_id))

    def do_promote(self, build, params: dict, user) -> ActionResult:
        message = self.client.promote(
            build.external_id, params["name"], bool(params.get("override")), params.get("parameters") or {}
        )
        return ActionResult(f"{params['name']}: {message or 'Promotion successfully triggered.'}")

    def do_validate_yaml(self, connection, params: dict, user) -> ActionResult:
        return ActionResult(f"Semaphore says: {self.client.validate_yaml(params['yaml_definition'])}")
