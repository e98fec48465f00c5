"""Buttons on jobs (docs/providers/semaphore.md, "Jobs (v1alpha)" and "Jobs (v2)"):
stop (v2: terminate), debug sessions, the debug SSH key (shown once, never stored or
logged), creating a job. Each uses the connection's jobs API shape."""

from __future__ import annotations

from django import forms

from providers.base.actions import ActionSet
from providers.base.errors import BadResponse
from providers.base.forms import ActionForm, KeyValueField
from providers.base.parse import obj, text
from providers.base.records import ActionResult

from ..mapping.jobs import job_view
from .workflows import fresh

actions = ActionSet()


class DebugForm(ActionForm):
    minutes = forms.IntegerField(
        min_value=1, max_value=24 * 60, initial=60, help_text="How long the debug session may run."
    )
    machine_type = forms.CharField(
        max_length=64, required=False, help_text="Optional (v2 jobs API): another machine type, e.g. e1-standard-4."
    )
    os_image = forms.CharField(max_length=64, required=False, help_text="Optional (v2 jobs API), e.g. ubuntu2204.")

    def clean(self):
        data = super().clean()
        if data.get("os_image") and not data.get("machine_type"):
            self.add_error("machine_type", "Give the machine type the OS image runs on.")
        return data


class ProjectDebugForm(ActionForm):
    minutes = forms.IntegerField(
        min_value=1, max_value=24 * 60, initial=60, help_text="How long the debug session may run."
    )
    machine_type = forms.CharField(max_length=64, initial="e1-standard-2")


class CreateJobForm(ActionForm):
    name = forms.CharField(max_length=255)
    machine_type = forms.CharField(max_length=64, initial="e1-standard-2")
    os_image = forms.CharField(max_length=64, initial="ubuntu2004", required=False)
    commands = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), help_text="One command per line.")
    env_vars = KeyValueField(required=False, label="Environment variables")
    secrets = forms.CharField(required=False, help_text="Names of secrets, comma-separated.")
    execution_time_limit = forms.IntegerField(
        min_value=60, max_value=24 * 3600, initial=3600, help_text="Seconds (v2 jobs API only)."
    )

    def clean_machine_type(self) -> str:
        value = self.cleaned_data["machine_type"].strip()
        if value.startswith("s1-"):
            raise forms.ValidationError("Jobs on self-hosted agent types cannot be created through the API.")
        return value

    def clean_commands(self) -> list[str]:
        lines = [line for line in self.cleaned_data["commands"].splitlines() if line.strip()]
        if not lines:
            raise forms.ValidationError("Give at least one command.")
        return lines

    def clean_secrets(self) -> list[str]:
        return [s.strip() for s in self.cleaned_data["secrets"].split(",") if s.strip()]


def debug_result(detail: dict, what: str) -> ActionResult:
    view = job_view(detail) or {}
    job_id = text(obj(detail.get("metadata")).get("id"))
    if not job_id:
        raise BadResponse("Semaphore started a debug session but did not say which job it is.")
    return ActionResult(
        f"Debug session {job_id} for {what} is starting on {view.get('machine_type') or 'an agent'}"
        f". Connect with: sem debug job {job_id}"
    )


@actions("stop_job", label="Stop job", target="job", destructive=True, applies=lambda j: not j.finished)
def stop_job(adapter, job, params: dict, user) -> ActionResult:
    if adapter.jobs_api == "v2":
        adapter.client.terminate_job_v2(job.external_id)
    else:
        adapter.client.stop_job(job.external_id)
    return ActionResult(f"Stopping {job.name}.", refresh=fresh(adapter, job.build.external_id))


@actions(
    "debug_job",
    label="Debug",
    target="job",
    form=DebugForm,
    help="Starts a debug session: a copy of this job's environment you can SSH into.",
)
def debug_job(adapter, job, params: dict, user) -> ActionResult:
    seconds = params["minutes"] * 60
    if adapter.jobs_api == "v2":
        machine = {"type": params.get("machine_type") or "", "os_image": params.get("os_image") or ""}
        detail = adapter.client.debug_job_v2(job.external_id, seconds, {k: v for k, v in machine.items() if v} or None)
    else:
        detail = adapter.client.debug_job(job.external_id, seconds)
    return debug_result(detail, job.name)


@actions(
    "ssh_key",
    label="Show debug SSH key",
    target="job",
    applies=lambda j: j.state == "running",
    help="The key of a running job's debug session, shown once.",
)
def ssh_key(adapter, job, params: dict, user) -> ActionResult:
    key = adapter.client.ssh_key(job.external_id, adapter.jobs_api)
    if not key:
        raise BadResponse("Semaphore answered without a key.")
    return ActionResult(f"Debug SSH key of {job.name} shown to {user.get_username()}.", once={"SSH key": key})


def job_spec(params: dict, project_id: str, api: str) -> dict:
    """The job to create, in the connection's API shape; Semaphore keeps and shows it as sent."""
    machine = {"type": params["machine_type"], "os_image": params.get("os_image") or ""}
    spec = {
        "agent": {"machine": machine},
        "commands": params["commands"],
        "env_vars": [{"name": k, "value": v} for k, v in (params.get("env_vars") or {}).items()],
        "secrets": [{"name": s} for s in params.get("secrets") or []],
    }
    if api == "v2":
        spec["execution_time_limit"] = params["execution_time_limit"]
        return {"metadata": {"name": params["name"], "project": {"id": project_id}}, "spec": spec}
    return {"metadata": {"name": params["name"]}, "spec": {"project_id": project_id, **spec}}


@actions("create_job", label="Create job", target="project", form=CreateJobForm)
def create_job(adapter, project, params: dict, user) -> ActionResult:
    api = adapter.jobs_api
    resource = job_spec(params, project.external_id, api)
    detail = adapter.client.create_job_v2(resource) if api == "v2" else adapter.client.create_job(resource)
    job_id = text(obj(detail.get("metadata")).get("id"))
    if not job_id:
        raise BadResponse("Semaphore created a job but did not say which.")
    return ActionResult(f"Job {params['name']} created ({job_id}); it shows under the connection's active jobs.")


@actions(
    "project_debug",
    label="Debug project",
    target="project",
    form=ProjectDebugForm,
    help="Starts a debug session in this project's environment.",
)
def project_debug(adapter, project, params: dict, user) -> ActionResult:
    detail = adapter.client.project_debug(project.external_id, params["minutes"] * 60, params["machine_type"])
    return debug_result(detail, project.name)
