"""Semaphore jobs in two shapes, chosen per connection (``options["jobs_api"]``:
``"v1alpha"``, ``"v2"`` or ``"auto"``, the default, which asks ``GET /api/v2/jobs`` once
and falls back to v1alpha on 404):

- v1alpha, what real Semaphore organisations serve (semaphore.md section 3);
- the seed-000 v2 resource (section 4), a contract of ours modelled on v2's conventions.

Both are read into one view of a job for the page: agent (machine type, OS image,
containers, ports), env vars, secrets by name, commands, epilogues, time limit and the
status timeline. The debug SSH key is shown once and never stored or logged."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.cache import cache

from providers.base.adapter import Action
from providers.base.errors import BadResponse, NotFound
from providers.base.forms import ActionForm, KeyValueField
from providers.base.parse import items, obj, text, timestamp
from providers.base.records import ActionResult

V1 = "/api/v1alpha"
V2 = "/api/v2"
ACTIVE_STATES = ("PENDING", "QUEUED", "RUNNING")


class JobsClientMixin:
    def detect_jobs_api(self) -> str:
        try:
            self.get(f"{V2}/jobs", params={"page_size": 1})
        except NotFound:
            return "v1alpha"
        return "v2"

    # v1alpha
    def list_jobs(self, states: tuple[str, ...] = ACTIVE_STATES, limit: int = 300) -> list[dict]:
        found: list[dict] = []
        token = ""
        while len(found) < limit:
            body = obj(
                self.get_json(f"{V1}/jobs", params={"states": list(states), "page_size": 30, "page_token": token})
            )
            found += items(body.get("jobs"))
            token = text(body.get("next_page_token"))
            if not token:
                break
        return found[:limit]

    def create_job(self, spec: dict) -> dict:
        return self.expect(self.parse_json(self.request("POST", f"{V1}/jobs", json=spec)), dict, "the new job")

    def stop_job(self, job_id: str) -> None:
        self.request("POST", f"{V1}/jobs/{job_id}/stop", json={}, idempotent=True)

    def debug_job(self, job_id: str, seconds: int) -> dict:
        body = self.parse_json(self.request("POST", f"{V1}/jobs/{job_id}/debug", json={"duration": str(seconds)}))
        return self.expect(body, dict, "the debug job")

    def project_debug(self, project: str, seconds: int, machine_type: str) -> dict:
        body = self.parse_json(
            self.request(
                "POST",
                f"{V1}/jobs/project_debug/{project}",
                json={"duration": str(seconds), "machine_type": machine_type},
            )
        )
        return self.expect(body, dict, "the debug job")

    def ssh_key(self, job_id: str, api: str = "v1alpha") -> str:
        prefix = V2 if api == "v2" else V1
        return text(obj(self.get_json(f"{prefix}/jobs/{job_id}/debug_ssh_key")).get("key"), 100_000)

    # v2 (seed 000)
    def job_v2(self, job_id: str) -> dict:
        return self.expect(self.get_json(f"{V2}/jobs/{job_id}"), dict, "the job")

    def list_jobs_v2(self, state: str = "", project_id: str = "", limit: int = 300) -> list[dict]:
        found: list[dict] = []
        params: dict[str, Any] = {"page_size": 100}
        if state:
            params["state"] = state
        if project_id:
            params["project_id"] = project_id
        while len(found) < limit:
            response = self.get(f"{V2}/jobs", params=params)
            found += self.expect(self.parse_json(response), list, "the jobs list")
            token = response.headers.get("next-page-token")
            if not token:
                break
            params["page_token"] = token
        return found[:limit]

    def create_job_v2(self, resource: dict) -> dict:
        return self.expect(self.parse_json(self.request("POST", f"{V2}/jobs", json=resource)), dict, "the new job")

    def terminate_job_v2(self, job_id: str) -> None:
        self.request("POST", f"{V2}/jobs/{job_id}/terminate", json={}, idempotent=True)

    def debug_job_v2(self, job_id: str, seconds: int, machine: dict | None = None) -> dict:
        body: dict[str, Any] = {"execution_time_limit": seconds}
        if machine:
            body["agent"] = {"machine": machine}
        response = self.request("POST", f"{V2}/jobs/{job_id}/debug", json=body)
        return self.expect(self.parse_json(response), dict, "the debug job")

    def job_log_v2(self, job_id: str):
        return self.get(f"{V2}/jobs/{job_id}/log_events", expect_redirect=True)


def job_view(detail: dict | None) -> dict | None:
    """One reading of a v1alpha or v2 job for the page; odd fields read as empty."""
    if not isinstance(detail, dict):
        return None
    meta, spec, status = obj(detail.get("metadata")), obj(detail.get("spec")), obj(detail.get("status"))
    agent = obj(spec.get("agent"))
    machine = obj(agent.get("machine"))
    ports = items(agent.get("ports")) or items(obj(status.get("agent")).get("ports"))
    timeline = obj(status.get("timeline"))
    if timeline:  # v2
        steps = [
            (label, timestamp(timeline.get(key)))
            for label, key in (
                ("created", "created_at"),
                ("enqueued", "enqueued_at"),
                ("scheduled", "scheduled_at"),
                ("started", "started_at"),
                ("finished", "finished_at"),
            )
        ]
    else:  # v1alpha
        steps = [
            (label, timestamp(meta.get(key)))
            for label, key in (("created", "create_time"), ("started", "start_time"), ("finished", "finish_time"))
        ]
    return {
        "machine_type": text(machine.get("type")),
        "os_image": text(machine.get("os_image")),
        "containers": [
            {"name": text(obj(c).get("name")), "image": text(obj(c).get("image"))}
            for c in items(agent.get("containers"))
        ],
        "ports": [{"name": text(obj(p).get("name")), "number": text(obj(p).get("number"))} for p in ports],
        "agent_ip": text(obj(status.get("agent")).get("ip")),
        "env_vars": [
            {"name": text(obj(e).get("name")), "value": text(obj(e).get("value"), 2000)}
            for e in items(spec.get("env_vars"))
        ],
        "secrets": [text(obj(s).get("name")) for s in items(spec.get("secrets"))],
        "commands": [text(c, 5000) for c in items(spec.get("commands"))],
        "epilogues": [
            (when, [text(c, 5000) for c in items(spec.get(key))])
            for when, key in (
                ("always", "epilogue_always_commands"),
                ("on pass", "epilogue_on_pass_commands"),
                ("on fail", "epilogue_on_fail_commands"),
            )
        ]
        + (
            [("epilogue", [text(c) for c in items(spec.get("epilogue_commands"))])]
            if items(spec.get("epilogue_commands"))
            else []
        ),
        "time_limit": spec.get("execution_time_limit") if isinstance(spec.get("execution_time_limit"), int) else None,
        "timeline": [(label, when) for label, when in steps if when],
        "state": text(status.get("state")),
        "result": text(status.get("result")),
    }


def active_job_row(detail: dict) -> dict:
    meta = obj(detail.get("metadata"))
    return {**(job_view(detail) or {}), "id": text(meta.get("id")), "name": text(meta.get("name"))}


class DebugForm(ActionForm):
    minutes = forms.IntegerField(
        min_value=1, max_value=24 * 60, initial=60, help_text="How long the debug session may run."
    )


class ProjectDebugForm(DebugForm):
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


def _running(job) -> bool:
    return job.state == "running"


JOB_ACTIONS = (
    Action("stop_job", "Stop job", "job", destructive=True, applies=lambda j: not j.finished),
    Action(
        "debug_job",
        "Debug",
        "job",
        form=DebugForm,
        help="Starts a debug session: a copy of this job's environment you can SSH into.",
    ),
    Action(
        "ssh_key",
        "Show debug SSH key",
        "job",
        applies=_running,
        help="The key of a running job's debug session, shown once.",
    ),
    Action("create_job", "Create job", "project", form=CreateJobForm),
    Action(
        "project_debug",
        "Debug project",
        "project",
        form=ProjectDebugForm,
        help="Starts a debug session in this project's environment.",
    ),
)


class JobsAdapterMixin:
    @property
    def jobs_api(self) -> str:
        choice = self.options.get("jobs_api", "auto")
        if choice in ("v1alpha", "v2"):
            return choice
        key = f"semaphore-jobs-api:{self.connection.pk}:{self.connection.base_url}"
        found = cache.get(key)
        if found is None:
            found = self.client.detect_jobs_api()
            cache.set(key, found, 3600)
        return found

    def describe_job(self, job_id: str) -> dict:
        if self.jobs_api == "v2":
            return {**self.client.job_v2(job_id), "_api": "v2"}
        return self.client.job(job_id)

    def job_log_response(self, job_id: str):
        return self.client.job_log_v2(job_id) if self.jobs_api == "v2" else self.client.job_log(job_id)

    def _debug_result(self, detail: dict, what: str) -> ActionResult:
        view = job_view(detail) or {}
        job_id = text(obj(detail.get("metadata")).get("id"))
        if not job_id:
            raise BadResponse("Semaphore started a debug session but did not say which job it is.")
        return ActionResult(
            f"Debug session {job_id} for {what} is starting on {view.get('machine_type') or 'an agent'}"
            f". Connect with: sem debug job {job_id}"
        )

    def do_stop_job(self, job, params: dict, user) -> ActionResult:
        if self.jobs_api == "v2":
            self.client.terminate_job_v2(job.external_id)
        else:
            self.client.stop_job(job.external_id)
        return ActionResult(f"Stopping {job.name}.", refresh=self._fresh(job.build.external_id))

    def do_debug_job(self, job, params: dict, user) -> ActionResult:
        seconds = params["minutes"] * 60
        if self.jobs_api == "v2":
            detail = self.client.debug_job_v2(job.external_id, seconds)
        else:
            detail = self.client.debug_job(job.external_id, seconds)
        return self._debug_result(detail, job.name)

    def do_ssh_key(self, job, params: dict, user) -> ActionResult:
        key = self.client.ssh_key(job.external_id, self.jobs_api)
        if not key:
            raise BadResponse("Semaphore answered without a key.")
        return ActionResult(f"Debug SSH key of {job.name} shown to {user.get_username()}.", once={"SSH key": key})

    def do_create_job(self, project, params: dict, user) -> ActionResult:
        machine = {"type": params["machine_type"], "os_image": params.get("os_image") or ""}
        env = [{"name": k, "value": v} for k, v in (params.get("env_vars") or {}).items()]
        secrets = [{"name": s} for s in params.get("secrets") or []]
        if self.jobs_api == "v2":
            detail = self.client.create_job_v2(
                {
                    "metadata": {"name": params["name"], "project": {"id": project.external_id}},
                    "spec": {
                        "agent": {"machine": machine},
                        "commands": params["commands"],
                        "env_vars": env,
                        "secrets": secrets,
                        "execution_time_limit": params["execution_time_limit"],
                    },
                }
            )
        else:
            detail = self.client.create_job(
                {
                    "metadata": {"name": params["name"]},
                    "spec": {
                        "project_id": project.external_id,
                        "agent": {"machine": machine},
                        "commands": params["commands"],
                        "env_vars": env,
                        "secrets": secrets,
                    },
                }
            )
        job_id = text(obj(detail.get("metadata")).get("id"))
        return ActionResult(f"Job {params['name']} created ({job_id or 'no id returned'}).")

    def do_project_debug(self, project, params: dict, user) -> ActionResult:
        detail = self.client.project_debug(project.external_id, params["minutes"] * 60, params["machine_type"])
        return self._debug_result(detail, project.name)

    def active_jobs(self) -> list[dict]:
        """Jobs queued or running anywhere in the organisation, newest first."""
        if self.jobs_api == "v2":
            return [j for state in ACTIVE_STATES for j in self.client.list_jobs_v2(state=state)]
        return self.client.list_jobs(ACTIVE_STATES)
