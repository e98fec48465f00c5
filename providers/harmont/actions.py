"""Harmont's buttons, each declared on its handler (docs/providers/harmont.md,
"Actions"): start a build of a pipeline, cancel a build (``PUT …/cancel``, idempotent: a
finished build is left as it is), and rebuild, which Harmont does not have: it is a new
build of the same branch and commit (and message; the original ``env`` is not in the
Build schema, so it is not carried over).

Refusals keep Harmont's words and request id: 402 (no balance), 403
(``pipeline_manual_disabled``), 422 (``build_invalid``/``build_plan_rejected``; the
rejected build still exists at Harmont and shows up at the next sync)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django import forms

from providers.base.actions import ActionSet
from providers.base.errors import NotFound
from providers.base.parse import integer, obj, text
from providers.base.records import ActionResult, Batch

if TYPE_CHECKING:
    from dashboard.models import Build, Pipeline

    from .adapter import HarmontAdapter

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
REF = re.compile(r"^[^\s\x00-\x1f\x7f]+$")


def parse_env(value: str) -> dict[str, str]:
    """``KEY=VALUE`` lines; blank lines and ``#`` comments are skipped; everything after
    the first ``=`` is the value, as typed."""
    env: dict[str, str] = {}
    errors = []
    for number, line in enumerate(value.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, val = line.partition("=")
        name = name.strip()
        if not sep:
            errors.append(f"line {number}: expected KEY=VALUE")
        elif not ENV_NAME.match(name):
            errors.append(f"line {number}: {name!r} is not a valid variable name")
        elif name in env:
            errors.append(f"line {number}: {name} is given twice")
        else:
            env[name] = val
    if errors:
        raise forms.ValidationError("; ".join(errors))
    return env


class TriggerForm(forms.Form):
    branch = forms.CharField(max_length=255)
    commit = forms.CharField(max_length=255, help_text="The commit SHA to build.")
    message = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    env = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Build environment, KEY=VALUE, one per line.",
    )

    def _ref(self, name: str) -> str:
        value = self.cleaned_data[name].strip()
        if not REF.match(value):
            raise forms.ValidationError("No spaces or control characters, please.")
        return value

    def clean_branch(self) -> str:
        return self._ref("branch")

    def clean_commit(self) -> str:
        return self._ref("commit")

    def clean_env(self) -> dict[str, str]:
        return parse_env(self.cleaned_data.get("env") or "")


def manual_disabled(pipeline: Pipeline | None) -> str:
    if pipeline is not None and obj(pipeline.raw).get("allow_manual") is False:
        return "Manual builds are disabled for this pipeline at Harmont (allow_manual is off)."
    return ""


def source_of(build: Build) -> dict:
    return obj(obj(build.raw).get("build"))


actions = ActionSet()


@actions(
    "trigger",
    label="New build",
    target="pipeline",
    form=TriggerForm,
    secret_fields=("env",),
    unavailable=manual_disabled,
    help="Start a build of a branch and commit.",
)
def trigger(adapter: HarmontAdapter, pipeline: Pipeline, params: dict, user: Any) -> ActionResult:
    org, _, slug = pipeline.external_id.partition(":")
    body: dict[str, Any] = {"branch": params["branch"], "commit": params["commit"], "source": "api"}
    if params.get("message"):
        body["message"] = params["message"]
    if params.get("env"):
        body["env"] = params["env"]
    data = adapter.client.create_build(org, slug, body)
    return started(adapter, org, slug, data, f"Started build #{integer(data.get('number'))} of {params['branch']}.")


@actions(
    "rebuild",
    label="Rebuild",
    target="build",
    applies=lambda b: bool(text(source_of(b).get("branch")) and text(source_of(b).get("commit"))),
    unavailable=lambda b: manual_disabled(b.pipeline),
    help="Start a new build of the same branch and commit (Harmont has no retry).",
)
def rebuild(adapter: HarmontAdapter, build: Build, params: dict, user: Any) -> ActionResult:
    source = source_of(build)
    org, slug = text(obj(build.raw).get("org")), text(obj(build.raw).get("pipeline"))
    body = {"branch": text(source.get("branch")), "commit": text(source.get("commit")), "source": "api"}
    if text(source.get("message")):
        body["message"] = text(source.get("message"), 10_000)
    data = adapter.client.create_build(org, slug, body)
    number = integer(data.get("number"))
    return started(adapter, org, slug, data, f"Started build #{number}, a rebuild of {build.number}.")


@actions(
    "cancel",
    label="Cancel build",
    target="build",
    destructive=True,
    applies=lambda b: not b.finished,
    help="Stop the build's unfinished jobs.",
)
def cancel(adapter: HarmontAdapter, build: Build, params: dict, user: Any) -> ActionResult:
    org, slug = text(obj(build.raw).get("org")), text(obj(build.raw).get("pipeline"))
    number = integer(source_of(build).get("number"))
    if not org or not slug or number is None:
        raise NotFound(f"{build.external_id} is not a Harmont build we can address.")
    data = adapter.client.cancel_build(org, slug, number)
    record = adapter.record_with_jobs(org, slug, data)
    state = text(data.get("state")) or "unknown"
    if state in ("passed", "failed") or (state == "canceled" and build.finished):
        message = f"Build {build.number} had already finished ({state}); nothing to cancel."
    else:
        message = f"Build {build.number} is {state}."
    return ActionResult(message, refresh=Batch(builds=[record]))


def started(adapter: HarmontAdapter, org: str, slug: str, data: dict, message: str) -> ActionResult:
    """The build an action started: stored at once, and the page goes to it."""
    record = adapter.record_with_jobs(org, slug, data)
    return ActionResult(message, refresh=Batch(builds=[record]), show_build=record.external_id)
