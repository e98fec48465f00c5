"""prunner's buttons: schedule a pipeline (with variables), cancel a job.

See docs/providers/prunner.md, "Schedule" and "Cancel". Each handler asks prunner, then
reads the job again so the page shows prunner's new state at once."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms

from providers.base.actions import ActionSet
from providers.base.errors import NotFound, ProviderError, Rejected
from providers.base.forms import ActionForm
from providers.base.parse import obj
from providers.base.records import ActionResult, Batch

from .client import SERVICE_SUBJECT, PrunnerClient
from .mapping import build_record, pipeline_records

actions = ActionSet()

# Any JSON key works in prunner (``{{ index . "a-b" }}``); spaces are more likely a typo.
NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
RESERVED = "__jobID"  # prunner refuses to run a job that sets its internal job id variable

NOT_DEFINED = "prunner no longer defines this pipeline (it was removed from its pipelines.yml)."
NO_QUEUE = (
    "prunner refuses every new job of this pipeline, even while none runs: its pipelines.yml disables "
    "queueing for it (queue_limit: 0)."
)
QUEUE_FULL = (
    "prunner refuses new jobs of this pipeline until one of the {waiting} waiting starts: its wait list is full."
)
REFUSED = (
    "prunner refuses new jobs of this pipeline: its pipelines.yml disables queueing for it (queue_limit: 0), "
    "or its wait list is full."
)


# Forms ---------------------------------------------------------------------------------
def parse_value(raw: str) -> Any:
    """A value is JSON when it reads as a list, object, number, bool or quoted string
    (quotes keep ``"1.10"`` a string), and is taken as plain text otherwise."""
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    if value is None:
        return raw
    return value


def parse_variables(text: str) -> dict[str, Any]:
    """``name=value`` lines; blank lines and ``#`` comments are skipped. Raises
    ValidationError naming the line that is wrong."""
    variables: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, raw = stripped.partition("=")
        name = name.strip()
        if not sep:
            raise forms.ValidationError(f"Line {number}: write name=value.")
        if not NAME.match(name):
            raise forms.ValidationError(
                f"Line {number}: {name!r} is not a usable variable name (letters, digits, _, - and . only)."
            )
        if name == RESERVED:
            raise forms.ValidationError(f"Line {number}: {RESERVED} is reserved by prunner.")
        if name in variables:
            raise forms.ValidationError(f"Line {number}: {name} is given twice.")
        variables[name] = parse_value(raw.strip())
    return variables


class ScheduleForm(ActionForm):
    variables = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": 'tag_name=v1.17.4\ndatabases=["mysql", "postgresql"]'}),
        help_text=(
            "One name=value per line. Values that read as JSON (lists, objects, numbers, true/false) are sent "
            'as JSON, anything else as text; put a value in double quotes to keep it text ("1.10").'
        ),
    )
    queue_partition = forms.CharField(
        required=False,
        max_length=200,
        help_text="Only for pipelines with queue_strategy: partitioned_replace (e.g. a tenant); others ignore it.",
    )

    def clean_variables(self) -> dict[str, Any]:
        return parse_variables(self.cleaned_data.get("variables") or "")

    def clean_queue_partition(self) -> str:
        return (self.cleaned_data.get("queue_partition") or "").strip()


# Helpers -------------------------------------------------------------------------------
def not_schedulable(pipeline: Any) -> str:
    """Why prunner would refuse a new job of this pipeline now, from the last sync ("" if
    it would take one). prunner's ``schedulable`` is false when queueing is disabled
    (always, running or not) or when the wait list is full; the jobs waiting tell which."""
    if getattr(pipeline, "gone", False):
        return NOT_DEFINED
    raw = obj(getattr(pipeline, "raw", None))
    if raw.get("schedulable") is not False:
        return ""
    waiting = raw.get("waiting")
    if not isinstance(waiting, int) or isinstance(waiting, bool):
        return REFUSED  # the jobs were not counted
    return QUEUE_FULL.format(waiting=waiting) if waiting > 0 else NO_QUEUE


def username(user: Any) -> str:
    name = user.get_username() if hasattr(user, "get_username") else ""
    return name or SERVICE_SUBJECT


def refreshed(client: PrunnerClient, job_id: str, notes: dict | None = None, stored: Any = None) -> Batch | None:
    """The job and the pipelines as they are right after an action, from one
    ``/pipelines/jobs`` answer; ``notes`` are added to what we keep of the job (see
    ``mapping.OURS``). None when prunner cannot tell us now (the next sync will)."""
    try:
        answer = client.pipelines_jobs()
    except ProviderError:
        answer = None
    if answer is None or answer.jobs is None:
        if stored is None or not notes:
            return None
        # Keep what we know (the notes) on our last copy; the next sync brings the rest.
        record = build_record(stored.raw, held_raw=stored.raw, notes=notes)
        return Batch(builds=[record]) if record else None
    job = next((j for j in answer.jobs if isinstance(j, dict) and j.get("id") == job_id), None)
    held = stored.raw if stored is not None else None
    record = build_record(job, held_raw=held, notes=notes) if job is not None else None
    pipelines = pipeline_records(answer.pipelines, answer.jobs) if answer.pipelines is not None else []
    return Batch(pipelines=pipelines, builds=[record] if record else [])


# Actions -------------------------------------------------------------------------------
@actions(
    "schedule",
    label="Schedule",
    target="pipeline",
    form=ScheduleForm,
    unavailable=not_schedulable,
    help="Start a job of this pipeline with variables; prunner queues it if the pipeline is busy.",
)
def schedule(adapter: Any, pipeline: Any, params: dict, user: Any) -> ActionResult:
    name = pipeline.external_id
    with adapter.client.acting_as(username(user)):
        job_id = adapter.client.schedule(name, params.get("variables") or {}, params.get("queue_partition") or "")
    refresh = refreshed(adapter.client, job_id)
    build = next((b for b in refresh.builds if b.external_id == job_id), None) if refresh else None
    state = build.state if build else "scheduled"
    return ActionResult(f"Scheduled {name}: job {job_id[:8]} is {state}.", refresh=refresh, show_build=job_id)


@actions(
    "cancel",
    label="Cancel job",
    target="build",
    destructive=True,
    applies=lambda build: not build.finished and not build.gone,
    help="Stops all its tasks; prunner does not wait for them to end.",
)
def cancel(adapter: Any, build: Any, params: dict, user: Any) -> ActionResult:
    who = username(user)
    try:
        with adapter.client.acting_as(who):
            adapter.client.cancel(build.external_id)
    except NotFound as exc:
        raise NotFound(
            f"prunner no longer has this job (removed by its retention?): {exc}", status=exc.status, body=exc.body
        ) from exc
    except Rejected as exc:
        if exc.status != 500:
            raise
        # The job ended before the cancel arrived: say so once, and show how it ended.
        refresh = refreshed(adapter.client, build.external_id)
        ended = next((b for b in refresh.builds if b.external_id == build.external_id), None) if refresh else None
        how = f" ({ended.state})" if ended is not None else ""
        message = f"the job had already ended{how}, so there was nothing to cancel."
        raise Rejected(message, status=exc.status, body=exc.body, refresh=refresh) from exc
    refresh = refreshed(adapter.client, build.external_id, notes={"canceled_by": who}, stored=build)
    record = next((b for b in refresh.builds if b.external_id == build.external_id), None) if refresh else None
    if record is not None and record.state == "canceled":
        return ActionResult("prunner canceled the job.", refresh=refresh)
    return ActionResult("prunner is cancelling the job; its tasks are being stopped.", refresh=refresh)


__all__ = [
    "NOT_DEFINED",
    "NO_QUEUE",
    "QUEUE_FULL",
    "REFUSED",
    "ScheduleForm",
    "actions",
    "not_schedulable",
    "parse_variables",
]
