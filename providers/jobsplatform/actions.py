"""Buttons for the jobs platform: create, update, delete and trigger a job; cancel a run
(docs/providers/jobsplatform.md, "Buttons").

Forms check what we can before anything is sent (a 5-field cron that fires, a non-empty
image, well-formed env vars); the platform's own refusals come back as typed errors in
its words. Every handler answers with the platform's new state (``refresh``), so the
page shows it at once instead of at the next sync."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms

from providers.base.actions import ActionSet
from providers.base.errors import BadResponse, Rejected
from providers.base.forms import ActionForm, KeyValueField
from providers.base.parse import integer, obj, text
from providers.base.records import ActionResult, Batch

from . import contract as c
from .mapping import build_record, run_state, short_id, split_pipeline_id, split_run_id
from .schedule import cron_problem

if TYPE_CHECKING:
    from .adapter import JobsPlatformAdapter

actions = ActionSet()


# Forms ------------------------------------------------------------------------------------------
class JobForm(ActionForm):
    name = forms.CharField(max_length=100)
    image = forms.CharField(
        max_length=500,
        error_messages={"required": "The image must not be empty: name a container image, e.g. python:3.12-slim."},
    )
    command = forms.CharField(required=False, max_length=2000, help_text="Run in a shell, e.g. python -m app.report")
    schedule = forms.CharField(
        required=False, max_length=100, help_text="5-field cron in UTC, e.g. */5 * * * *; empty for on demand only."
    )
    tags = forms.CharField(required=False, max_length=500, help_text="Comma-separated.")
    env_vars = KeyValueField(required=False, help_text="NAME=value, one per line.")

    def clean_schedule(self) -> str:
        value = " ".join(self.cleaned_data["schedule"].split())
        problem = cron_problem(value) if value else ""
        if problem:
            raise forms.ValidationError(problem)
        return value

    def clean_tags(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data["tags"].split(",") if t.strip()]


class CreateJobForm(JobForm):
    pass


class UpdateJobForm(JobForm):
    """Every field optional: what is left empty stays as it is."""

    clear_schedule = forms.BooleanField(required=False, label="Remove the schedule (run on demand only)")

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False
        # Show the current values as placeholders: an empty field keeps them.
        current = obj(obj(getattr(self.target, "raw", None)).get("job"))
        for key in (c.NAME, c.IMAGE, c.COMMAND, c.SCHEDULE):
            if text(current.get(key)):
                self.fields[key].widget.attrs["placeholder"] = text(current.get(key))
        if isinstance(current.get(c.TAGS), list) and current[c.TAGS]:
            self.fields[c.TAGS].widget.attrs["placeholder"] = ", ".join(map(str, current[c.TAGS]))

    def clean(self) -> dict:
        data = super().clean()
        if data.get("clear_schedule") and data.get("schedule"):
            raise forms.ValidationError("Either give a new schedule or remove it, not both.")
        if not changes(data):
            raise forms.ValidationError("Nothing to change: fill in at least one field.")
        return data


class DeleteJobForm(ActionForm):
    confirm_name = forms.CharField(max_length=100, label="Type the job's name to confirm")

    def clean_confirm_name(self) -> str:
        value = self.cleaned_data["confirm_name"]
        if self.target is not None and value != self.target.name:
            raise forms.ValidationError(mismatch(self.target.name))
        return value


def mismatch(name: str) -> str:
    return f"The name typed does not match: type {name!r} exactly to delete this job."


def changes(data: dict) -> dict:
    """The fields to send: empty ones are left out (unchanged); a removed schedule is null."""
    out = {key: data[key] for key in c.JOB_FIELDS if data.get(key) not in (None, "", [], {})}
    if data.get("clear_schedule"):
        out[c.SCHEDULE] = None
    return out


def present(row: Any) -> bool:
    return not getattr(row, "gone", False)


def cancellable(build: Any) -> bool:
    """Only a run that may still be pending or running, and that the platform still has."""
    return not build.finished and not build.gone


def cancel_unavailable(build: Any) -> str:
    if build.gone:
        return "The platform no longer has this run."
    if build.finished:
        return f"The run is already {build.raw_state or build.state}; only pending or running runs can be cancelled."
    return ""


def project_of_run(build: Any) -> str:
    raw = obj(build.raw)
    return text(raw.get("project_id")) or (build.project.external_id if build.project_id else "")


# Handlers ---------------------------------------------------------------------------------------
@actions(
    "create_job", label="New job", target="project", form=CreateJobForm, secret_fields=("env_vars",), applies=present
)
def create_job(adapter: JobsPlatformAdapter, project: Any, params: dict, user: Any) -> ActionResult:
    project_id = project.external_id
    job = adapter.client.create_job(project_id, changes(params))
    if not text(job.get(c.JOB_ID)):
        raise BadResponse("The platform created the job but did not say its id.")
    name = text(job.get(c.NAME)) or params.get("name", "")
    when = f" on schedule {job.get(c.SCHEDULE)} (UTC)" if job.get(c.SCHEDULE) else " on demand"
    return ActionResult(f"Job {name} created; it runs{when}.", refresh=adapter.definition_batch(project_id, job))


@actions(
    "update_job",
    label="Edit job",
    target="pipeline",
    form=UpdateJobForm,
    secret_fields=("env_vars",),
    applies=present,
    help="Fields left empty stay as they are. Changes apply from the next run.",
)
def update_job(adapter: JobsPlatformAdapter, pipeline: Any, params: dict, user: Any) -> ActionResult:
    project_id, job_id = split_pipeline_id(pipeline.external_id)
    fields = changes(params)
    if not fields:
        raise Rejected("Nothing to change.")
    job = adapter.client.update_job(project_id, job_id, fields)
    return ActionResult(
        f"Job {text(job.get(c.NAME)) or pipeline.name} updated ({', '.join(sorted(fields))}); "
        "the changes apply from its next run.",
        refresh=adapter.definition_batch(project_id, job),
    )


@actions(
    "trigger_run",
    label="Run now",
    target="pipeline",
    applies=present,
    help="Starts a run at once, outside the schedule.",
)
def trigger_run(adapter: JobsPlatformAdapter, pipeline: Any, params: dict, user: Any) -> ActionResult:
    project_id, job_id = split_pipeline_id(pipeline.external_id)
    run = adapter.client.trigger_run(project_id, job_id)
    record = build_record(project_id, job_id, pipeline.name, run)
    if record is None:
        raise BadResponse("The platform triggered a run but did not say its id.")
    return ActionResult(
        f"Run {short_id(record.number)} of {pipeline.name} triggered; it is {record.raw_state or 'pending'}.",
        refresh=Batch(builds=[record]),
        show_build=record.external_id,
    )


@actions(
    "delete_job",
    label="Delete job",
    target="pipeline",
    destructive=True,
    form=DeleteJobForm,
    applies=present,
    help="Removes the job, all of its runs (running ones too) and its schedule. Irreversible.",
)
def delete_job(adapter: JobsPlatformAdapter, pipeline: Any, params: dict, user: Any) -> ActionResult:
    if params.get("confirm_name") != pipeline.name:
        raise Rejected(mismatch(pipeline.name))
    project_id, job_id = split_pipeline_id(pipeline.external_id)
    answer = obj(adapter.client.delete_job(project_id, job_id))
    runs = integer(answer.get("deleted_runs"))
    # The platform deleted them with the job (docs: "Delete a job"): we know they are gone.
    gone = list(pipeline.build_set.values_list("external_id", flat=True))
    removed = [("pipeline", pipeline.external_id), ("schedule", pipeline.external_id), *(("build", b) for b in gone)]
    what = f"{runs} run(s)" if runs is not None else "its runs"
    return ActionResult(f"Job {pipeline.name} deleted, with {what} and its schedule.", refresh=Batch(removed=removed))


@actions(
    "cancel_run",
    label="Cancel run",
    target="build",
    destructive=True,
    applies=cancellable,
    unavailable=cancel_unavailable,
    help="Stops the run; what it did so far is not undone.",
)
def cancel_run(adapter: JobsPlatformAdapter, build: Any, params: dict, user: Any) -> ActionResult:
    job_id, run_id = split_run_id(build.external_id)
    project_id = project_of_run(build)
    job_name = text(obj(build.raw).get("job_name")) or (build.pipeline.name if build.pipeline_id else job_id)
    try:
        run = adapter.client.cancel_run(project_id, job_id, run_id)
    except Rejected as exc:
        if exc.status != 409:
            raise
        # Our copy said it still ran, but it has ended meanwhile: show how it ended.
        run = adapter.client.run(project_id, job_id, run_id)
        record = build_record(project_id, job_id, job_name, run)
        state = run_state(run)[1] or "finished"
        return ActionResult(
            f"Run {short_id(run_id)} of {job_name} had already {state}; nothing was cancelled ({exc}).",
            refresh=Batch(builds=[record]) if record else None,
        )
    record = build_record(project_id, job_id, job_name, run)
    return ActionResult(
        f"Run {short_id(run_id)} of {job_name} cancelled.", refresh=Batch(builds=[record]) if record else None
    )
