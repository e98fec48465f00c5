"""What Harmont's pages show beyond the neutral fields (docs/providers/harmont.md,
"Panels"). Each context is plain JSON (strings, numbers, booleans, lists, dicts), so the
API can serve it as it is; the templates under ``templates/providers/harmont/`` read only
these contexts.

- ``pipeline_panel``: the pipeline's repository, default branch, visibility, and whether
  manual builds are allowed (stored by the sync).
- ``build_panel``: the build's source, its planning error, and which jobs failed but were
  allowed to (stored by the sync).
- ``job_panel`` (live): the job as Harmont answers it now (``getJob``: state, exit code,
  error, policies) and its artifacts; either call failing is said in words, and the
  stored copy is shown instead of the fresh one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from providers.base.errors import CONNECTION_ERRORS, NotFound, ProviderError
from providers.base.panels import PanelSet
from providers.base.parse import obj, text

from .mapping import artifact, job_detail, split_build_id

if TYPE_CHECKING:
    from dashboard.models import Build, Job, Pipeline

    from .adapter import HarmontAdapter

panels = PanelSet()
ALLOWED_FAILURES_SHOWN = 50


@panels("pipeline_panel", page="pipeline")
def pipeline_panel(adapter: HarmontAdapter, pipeline: Pipeline, request: Any) -> dict:
    raw = obj(pipeline.raw)
    return {
        "repository": text(raw.get("repository"), 1000),
        "default_branch": text(raw.get("default_branch")),
        "visibility": text(raw.get("visibility")),
        "manual_builds": raw.get("allow_manual") is not False,
        "description": text(raw.get("description"), 2000),
    }


@panels("build_panel", page="build")
def build_panel(adapter: HarmontAdapter, build: Build, request: Any) -> dict:
    raw = obj(obj(build.raw).get("build"))
    allowed = build.jobs.filter(allowed_failure=True).order_by("position", "id")[:ALLOWED_FAILURES_SHOWN]
    return {
        "source": text(raw.get("source")),
        "error_code": text(raw.get("error_code")),
        "error_message": text(raw.get("error_message"), 2000),
        "allowed_failures": [
            {"name": job.name, "exit_code": job.exit_code, "url": job.get_absolute_url()} for job in allowed
        ],
    }


@panels("job_panel", page="job", live=True)
def job_panel(adapter: HarmontAdapter, job: Job, request: Any) -> dict:
    """Fresh detail from Harmont (``getJob``) and the artifacts list. The artifacts
    endpoint is assumed: a 404 hides the section rather than showing an error."""
    stored = job_detail(obj(job.raw))
    context: dict[str, Any] = {
        "detail": stored,
        "fresh": False,
        "fresh_error": "",
        "allowed_failure": job.allowed_failure,
        "artifacts": [],
        "artifacts_available": False,
        "artifacts_error": "",
    }
    parts = split_build_id(job.build.external_id)
    if parts is None:
        return context
    try:
        context["detail"] = job_detail(adapter.client.job(*parts, job.external_id))
        context["fresh"] = True
        context["allowed_failure"] = context["detail"]["soft_failed"]
    except CONNECTION_ERRORS as exc:
        context["fresh_error"] = f"Could not ask Harmont for this job now: {exc}"
        return context  # nor for its artifacts: the page has waited long enough
    except ProviderError as exc:
        context["fresh_error"] = f"Could not ask Harmont for this job now: {exc}"
    try:
        found = adapter.client.artifacts(*parts, job.external_id)
    except NotFound:
        return context
    except ProviderError as exc:
        context["artifacts_error"] = f"Could not list artifacts: {exc}"
        return context
    context["artifacts_available"] = True
    context["artifacts"] = [artifact(a) for a in found]
    return context
