"""What prunner adds to our pages (templates in templates/providers/prunner/):

- ``build_panel``: the job's variables, who scheduled it, why it failed (its tasks'
  own errors, not prunner's ``lastError: "context canceled"``) or who canceled it;
- ``job_panel`` (live): the task's error and exit facts from what we store, then its
  stdout and stderr side by side, asked of prunner now;
- ``pipeline_panel``: whether prunner would take a new job, in words.

See docs/providers/prunner.md ("Job state", "Logs")."""

from __future__ import annotations

import json
from typing import Any

from dashboard.ansi import to_html
from providers.base.errors import ProviderError
from providers.base.panels import PanelSet, provider_error_for
from providers.base.parse import obj, text

from .actions import not_schedulable
from .mapping import CONTEXT_CANCELED, OURS, split_task_id

panels = PanelSet()

PANEL_TAIL = 64 * 1024  # characters of each stream shown in the panel


def task_errors(build: Any) -> list[dict]:
    """The tasks that failed, with their own error text, in prunner's order."""
    failed = []
    for task in build.jobs.all():
        raw = obj(task.raw)
        error = text(raw.get("error"), 2000)
        if task.state == "failed" and not task.allowed_failure:
            failed.append({"name": task.name, "url": task.get_absolute_url(), "error": error})
    return failed


@panels("build_panel", page="build")
def build_panel(adapter: Any, build: Any, request: Any) -> dict:
    raw = obj(build.raw)
    variables = sorted(obj(raw.get("variables")).items())
    last_error = text(raw.get("lastError"), 2000)
    failed = task_errors(build)
    return {
        "panel": {
            "variables": [(key, json.dumps(value, ensure_ascii=False)) for key, value in variables],
            "user": text(raw.get("user")),
            "failed_tasks": failed,
            "canceled_by": text(obj(raw.get(OURS)).get("canceled_by")),
            # prunner reports a fail-fast stop as a cancel; the failed task is the cause.
            "reported_canceled": raw.get("canceled") is True and build.state == "failed",
            # "context canceled" only says that tasks were stopped, never why.
            "last_error": "" if last_error == CONTEXT_CANCELED or failed else last_error,
        }
    }


@panels("job_panel", page="job", live=True)
def job_panel(adapter: Any, job: Any, request: Any) -> dict:
    """What we store of the task (its error, an allowed failure, an end prunner never
    recorded), then both streams fetched now; if prunner cannot be asked, the stored
    part is still shown."""
    raw = obj(job.raw)
    panel: dict[str, Any] = {
        "error": text(raw.get("error"), 4000),
        "allowed_failure": job.allowed_failure,
        "exit_code": job.exit_code,
        "end_unrecorded": job.finished and raw.get("end") is None and raw.get("start") is not None,
        "end_known": job.finished_at is not None,
    }
    try:
        panel.update(task_streams(adapter, job))
    except ProviderError as exc:
        panel["streams_error"] = f"prunner could not be asked: {provider_error_for(request, exc)}"
    return {"panel": panel}


def task_streams(adapter: Any, job: Any) -> dict:
    job_id, task = split_task_id(job.external_id)
    stdout, stderr = adapter.client.logs(job_id, task)
    streams: dict[str, Any] = {"task": task, "live": not job.finished, "streams": True}
    for stream, value in (("stdout", stdout), ("stderr", stderr)):
        tail = value[-PANEL_TAIL:]
        streams[f"{stream}_size"] = len(value)
        streams[f"{stream}_truncated"] = len(value) > PANEL_TAIL
        streams[stream] = tail  # as text for the API, which leaves the HTML out
        streams[f"{stream}_html"] = to_html(tail)
    return streams


@panels("pipeline_panel", page="pipeline")
def pipeline_panel(adapter: Any, pipeline: Any, request: Any) -> dict:
    raw = obj(pipeline.raw)
    waiting = raw.get("waiting")
    return {
        "panel": {
            "running": raw.get("running") is True,
            "waiting": waiting if isinstance(waiting, int) and not isinstance(waiting, bool) else None,
            "refusal": not_schedulable(pipeline),
        }
    }
