"""What the jobs platform shows on our pages beyond the neutral fields
(docs/providers/jobsplatform.md, "Panels").

- ``pipeline_panel`` (a job's page, live): the job's definition as the platform has it
  now (GET job), its schedule (next fire, missed flag), run counts and latest run, a
  window of the logs of all its runs, and CPU/memory charts.
- ``build_panel`` (a run's page, from what the sync stored): what the run ran (image,
  command), who or what started it, its exit code and its error.
- ``job_panel`` (the run's job page, live): the run as the platform has it now (GET run)
  and a window of its own log lines, with the platform's time window (``since`` or
  ``start``/``end``), line limit and ``filter``.

Each part of a live panel fails on its own, in words. Contexts are plain data (dicts,
lists, strings, numbers, aware datetimes that JSON encoders write as ISO 8601), so the
same context can be served as JSON."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils import timezone

from providers.base.errors import ProviderError
from providers.base.panels import PanelSet
from providers.base.parse import integer, obj, text, timestamp

from . import contract as c
from .charts import chart
from .client import Window
from .mapping import (
    newest_scheduled,
    run_external_id,
    run_state,
    schedule_facts,
    short_id,
    split_pipeline_id,
)

if TYPE_CHECKING:
    from .adapter import JobsPlatformAdapter

panels = PanelSet()

SINCE_CHOICES = [(900, "15 minutes"), (3600, "1 hour"), (21600, "6 hours"), (86400, "1 day"), (604800, "7 days")]
DEFAULT_SINCE = 3600
DEFAULT_LINES = 200
WINDOW_PREFIX = "logs"  # the pages have query parameters of their own
COUNT_ORDER = (c.TOTAL, c.PENDING, c.RUNNING, c.SUCCEEDED, c.FAILED, c.CANCELLED)


class WindowForm(forms.Form):
    """The time range and filter above a log window (times in UTC)."""

    since = forms.TypedChoiceField(
        choices=[("", "custom"), *SINCE_CHOICES], coerce=int, required=False, empty_value=None
    )
    start = forms.DateTimeField(required=False)
    end = forms.DateTimeField(required=False)
    limit = forms.IntegerField(required=False, min_value=1, max_value=c.MAX_LOG_LIMIT)
    q = forms.CharField(required=False, max_length=200, label="Filter (case-sensitive)")

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end <= start:
            raise forms.ValidationError("The end of the window must be after its start.")
        return data


def read_window(params: Any, default_since: int | None) -> tuple[dict, list[str]]:
    """The window asked for in ``params`` (``logs-since``, ``logs-start``, ``logs-end``,
    ``logs-limit``, ``logs-q``), with the defaults for what is missing or wrong, and
    the form's complaints in words."""
    bound = bool(params) and any(str(key).startswith(f"{WINDOW_PREFIX}-") for key in params)
    form = WindowForm(params if bound else None, prefix=WINDOW_PREFIX)
    values = form.cleaned_data if bound and form.is_valid() else {}
    errors = [str(e) for errors in (form.errors.values() if bound else []) for e in errors]
    start, end = values.get("start"), values.get("end")
    since = None if start or end else values.get("since") or default_since
    window = {
        "since": since,
        "start": start,
        "end": end,
        "limit": values.get("limit") or DEFAULT_LINES,
        "q": values.get("q") or "",
    }
    return window, errors


def log_lines(adapter: JobsPlatformAdapter, target: Any, window: dict) -> dict:
    """A window of log lines of a job (all its runs, given a Pipeline) or of one run (a
    Build or its Job): the newest ``limit`` of the window, oldest first, each linking to
    its run's page when we hold that run."""
    project_id, job_id, run_id = adapter.address(target)
    if window["start"] or window["end"]:
        span = Window(start=window["start"], end=window["end"])
    else:
        span = Window(since=window["since"])
    limit = min(max(int(window["limit"] or c.DEFAULT_LOG_LIMIT), 1), c.MAX_LOG_LIMIT)
    entries, truncated = adapter.client.logs(
        project_id, job_id, run_id, window=span, limit=limit, filter=window["q"] or None
    )
    lines = [
        {
            "timestamp": timestamp(e.get(c.TIMESTAMP)),
            "stream": text(e.get(c.STREAM), 16),
            "stderr": e.get(c.STREAM) == c.STDERR,
            "line": text(e.get(c.LINE), 20_000),
            "run_id": text(e.get(c.RUN_ID), 100) or (run_id or ""),
        }
        for e in entries
    ]
    urls = run_urls(adapter, job_id, {line["run_id"] for line in lines if line["run_id"]})
    for line in lines:
        line["run_url"] = urls.get(line["run_id"], "")
        line["run_short"] = short_id(line["run_id"])
    return {"lines": lines, "truncated": truncated}


def run_urls(adapter: JobsPlatformAdapter, job_id: str, run_ids: set[str]) -> dict[str, str]:
    """Our page of each run we hold (runs we do not hold get no link)."""
    from dashboard.models import Build

    if not run_ids:
        return {}
    wanted = {run_external_id(job_id, run_id): run_id for run_id in run_ids}
    builds = Build.objects.filter(connection=adapter.connection, external_id__in=list(wanted)).select_related(
        "connection"
    )
    return {wanted[b.external_id]: b.get_absolute_url() for b in builds}


def job_definition(job: dict) -> dict:
    """What the panel shows of a job's spec: env var names only, never their values."""
    env = job.get(c.ENV_VARS)
    return {
        "name": text(job.get(c.NAME)),
        "image": text(job.get(c.IMAGE)),
        "command": text(job.get(c.COMMAND), 2000),
        "schedule": text(job.get(c.SCHEDULE)),
        "tags": [text(t, 100) for t in job.get(c.TAGS) or [] if isinstance(t, str)],
        "env_var_names": sorted(env) if isinstance(env, dict) else [],
        "updated_at": timestamp(job.get(c.UPDATED_AT)),
    }


def run_facts(run: dict) -> dict:
    state, raw_state = run_state(run)
    return {
        "run_id": text(run.get(c.RUN_ID)),
        "short_id": short_id(text(run.get(c.RUN_ID))),
        "state": str(state),
        "raw_state": raw_state,
        "trigger": text(run.get(c.TRIGGER)),
        "image": text(run.get(c.IMAGE), 500),
        "command": text(run.get(c.COMMAND), 2000),
        "created_at": timestamp(run.get(c.CREATED_AT)),
        "started_at": timestamp(run.get(c.STARTED_AT)),
        "finished_at": timestamp(run.get(c.FINISHED_AT)),
        "exit_code": integer(run.get(c.EXIT_CODE)),
        "error": text(run.get(c.RUN_ERROR), 2000),
    }


# The job's page ----------------------------------------------------------------------------------
@panels("pipeline_panel", page="pipeline", live=True, title="Job")
def pipeline_panel(adapter: JobsPlatformAdapter, pipeline: Any, request: Any) -> dict:
    """``{"panel": ...}`` for a job's (Pipeline's) page; the log window comes from the
    query string."""
    window, errors = read_window(getattr(request, "GET", None), DEFAULT_SINCE)
    project_id, job_id = split_pipeline_id(pipeline.external_id)
    stored = obj(obj(pipeline.raw).get("job"))
    panel: dict[str, Any] = {"since_choices": [list(choice) for choice in SINCE_CHOICES], "window": window}
    panel["window_errors"] = errors
    try:
        job = adapter.client.job(project_id, job_id)  # the definition as it is now, not as last synced
        panel["fresh"] = True
    except ProviderError as exc:
        job = stored
        panel["fresh"] = False
        panel["job_error"] = f"Could not read the job's current definition ({exc}); shown as last synced."
    panel["job"] = job_definition(job or stored)
    now = status_part(adapter, panel, project_id, job_id, job)
    try:
        panel["logs"] = log_lines(adapter, pipeline, window)
    except ProviderError as exc:
        panel["logs_error"] = f"Could not read the logs: {exc}"
    since, start, end = window["since"], window["start"], window["end"]
    first = end - timedelta(hours=1) if end and not start else start or now - timedelta(seconds=since or 3600)
    last = end or now
    try:
        data = adapter.client.metrics(project_id, job_id, list(c.METRICS), Window(since=since, start=start, end=end))
        panel["charts"] = [chart(n, data.get(n), first.timestamp(), last.timestamp()) for n in c.METRICS]
    except ProviderError as exc:
        panel["metrics_error"] = f"Could not read the metrics: {exc}"
    panel["chart_window"] = [first, last]
    return {"panel": panel}


def status_part(adapter: JobsPlatformAdapter, panel: dict, project_id: str, job_id: str, job: dict) -> datetime:
    """Run counts, latest run and schedule facts into ``panel``; the platform's now."""
    try:
        status = adapter.client.job_status(project_id, job_id)
    except ProviderError as exc:
        panel["status_error"] = f"Could not read the job's status: {exc}"
        return timezone.now()
    now = adapter.client.server_time or timezone.now()
    counts = obj(status.get(c.RUN_COUNTS))
    panel["counts"] = [[key, integer(counts.get(key)) or 0] for key in COUNT_ORDER]
    latest = obj(status.get(c.LATEST_RUN))
    if latest.get(c.RUN_ID):
        facts = run_facts(latest)
        facts["url"] = run_urls(adapter, job_id, {facts["run_id"]}).get(facts["run_id"], "")
        panel["latest"] = facts
    if text(status.get(c.SCHEDULE)) or text(job.get(c.SCHEDULE)):
        known = True
        if text(latest.get(c.TRIGGER)) == c.SCHEDULED:
            last_fire = timestamp(latest.get(c.CREATED_AT))
        else:
            try:
                last_fire = newest_scheduled(adapter.client.runs(project_id, job_id))
            except ProviderError:
                last_fire, known = None, False
        facts = schedule_facts(job, status, last_fire, now)
        if not known:  # without the runs we cannot tell; better silent than a false alarm
            facts.update(missed=False, missed_fire_at=None, missed_unknown=True)
        panel["schedule"] = facts
    return now


# A run's pages -----------------------------------------------------------------------------------
@panels("build_panel", page="build", title="Run")
def build_panel(adapter: JobsPlatformAdapter, build: Any, request: Any) -> dict:
    """The run as the sync stored it: what ran, how it was started, how it ended."""
    facts = run_facts(obj(obj(build.raw).get("run")))
    facts["job_name"] = text(obj(build.raw).get("job_name"))
    return {"panel": facts}


@panels("job_panel", page="job", live=True, title="Run on the platform")
def job_panel(adapter: JobsPlatformAdapter, job: Any, request: Any) -> dict:
    """The run as the platform has it now, and a window of its log lines."""
    window, errors = read_window(getattr(request, "GET", None), None)
    project_id, job_id, run_id = adapter.address(job)
    panel: dict[str, Any] = {
        "since_choices": [list(choice) for choice in SINCE_CHOICES],
        "window": window,
        "window_errors": errors,
    }
    try:
        panel["run"] = run_facts(adapter.client.run(project_id, job_id, run_id or ""))
    except ProviderError as exc:
        panel["run_error"] = f"Could not read the run: {exc}"
    try:
        panel["logs"] = log_lines(adapter, job, window)
    except ProviderError as exc:
        panel["logs_error"] = f"Could not read the run's log lines: {exc}"
    return {"panel": panel}


__all__ = ["WindowForm", "build_panel", "job_panel", "panels", "pipeline_panel"]
