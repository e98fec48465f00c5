"""Buttons on workflows, pipelines and promotions (docs/providers/semaphore.md,
"Workflows", "Pipelines", "Promotions"): run, rerun, rebuild failed jobs, stop, promote,
validate YAML. What an action started or changed is read back at once and stored, so
the page shows Semaphore's new state without waiting for a sync."""

from __future__ import annotations

import re
import uuid

from django import forms

from dashboard.states import State
from providers.base.actions import ActionSet
from providers.base.errors import BadResponse
from providers.base.forms import ActionForm, KeyValueField
from providers.base.parse import text
from providers.base.records import ActionResult, Batch

actions = ActionSet()
SHA = re.compile(r"^[0-9a-fA-F]{7,40}$")


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


def fresh(adapter, ppl_id: str) -> Batch:
    """The pipeline as Semaphore describes it now, to store at once (a failure to read it
    is only a problem: the action itself was done)."""
    batch = Batch()
    record = adapter.attempt(batch, f"pipeline {ppl_id}", adapter.read_pipeline, ppl_id)
    if record is not None:
        batch.builds.append(record)
    return batch


def _state_now(batch: Batch, ppl_id: str) -> str:
    return next((b.state for b in batch.builds if b.external_id == ppl_id), "")


@actions(
    "run_workflow",
    label="Run workflow",
    target="project",
    form=RunWorkflowForm,
    help="Starts a workflow on a branch, tag or pull request.",
)
def run_workflow(adapter, project, params: dict, user) -> ActionResult:
    answer = adapter.client.run_workflow(
        project.external_id, params["reference"], params.get("commit_sha", ""), params.get("pipeline_file", "")
    )
    ppl_id = text(answer.get("pipeline_id"))
    if not ppl_id:
        raise BadResponse("Semaphore started a workflow but did not say which pipeline.")
    return ActionResult(
        f"Workflow {text(answer.get('workflow_id'))} started on {params['reference']}.",
        refresh=fresh(adapter, ppl_id),
        show_build=ppl_id,
    )


@actions(
    "rerun_workflow",
    label="Rerun",
    target="build",
    form=IdempotentForm,
    help="Starts the whole workflow again on the same commit.",
)
def rerun_workflow(adapter, build, params: dict, user) -> ActionResult:
    answer = adapter.client.rerun_workflow(build.group_id, params["request_token"])
    ppl_id = text(answer.get("ppl_id"))
    return ActionResult(
        "The workflow was started again.",
        refresh=fresh(adapter, ppl_id) if ppl_id else None,
        show_build=ppl_id or None,
    )


@actions(
    "partial_rebuild",
    label="Rebuild failed jobs",
    target="build",
    form=IdempotentForm,
    applies=lambda b: b.finished and b.state != State.PASSED,
    help="Semaphore rebuilds only the failed jobs of a pipeline that is done and did not pass.",
)
def partial_rebuild(adapter, build, params: dict, user) -> ActionResult:
    answer = adapter.client.partial_rebuild(build.external_id, params["request_token"])
    ppl_id = text(answer.get("pipeline_id"))
    return ActionResult(
        "The failed jobs are running again.",
        refresh=fresh(adapter, ppl_id) if ppl_id else None,
        show_build=ppl_id or None,
    )


def _unfinished(build) -> bool:
    return not build.finished


def stopped_message(said: str, state: str, what: str) -> str:
    """What Semaphore said, and where the pipeline stands right after."""
    said = said or f"{what} termination started."
    if state and state not in (State.CANCELED, State.PASSED, State.FAILED):
        return f"{said} Semaphore is stopping it; the page updates when it has stopped."
    return said


@actions("stop_pipeline", label="Stop pipeline", target="build", destructive=True, applies=_unfinished)
def stop_pipeline(adapter, build, params: dict, user) -> ActionResult:
    said = adapter.client.stop_pipeline(build.external_id)
    refresh = fresh(adapter, build.external_id)
    return ActionResult(stopped_message(said, _state_now(refresh, build.external_id), "Pipeline"), refresh=refresh)


@actions(
    "stop_workflow",
    label="Stop workflow",
    target="build",
    destructive=True,
    applies=_unfinished,
    help="Stops every running pipeline of this workflow.",
)
def stop_workflow(adapter, build, params: dict, user) -> ActionResult:
    said = adapter.client.stop_workflow(build.group_id)
    refresh = fresh(adapter, build.external_id)
    return ActionResult(stopped_message(said, _state_now(refresh, build.external_id), "Workflow"), refresh=refresh)


@actions("promote", label="Promote", target="build", form=PromotionForm)
def promote(adapter, build, params: dict, user) -> ActionResult:
    message = adapter.client.promote(
        build.external_id, params["name"], bool(params.get("override")), params.get("parameters") or {}
    )
    return ActionResult(f"{params['name']}: {message or 'Promotion successfully triggered.'}")


@actions(
    "validate_yaml",
    label="Validate YAML",
    target="connection",
    form=YamlForm,
    help="Semaphore checks a pipeline definition without running it.",
)
def validate_yaml(adapter, connection, params: dict, user) -> ActionResult:
    return ActionResult(f"Semaphore says: {adapter.client.validate_yaml(params['yaml_definition'])}")
