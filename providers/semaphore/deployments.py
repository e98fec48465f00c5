"""Semaphore deployment targets and their deployment history (semaphore.md section 9,
seed 002 "Deployment targets"): client calls, sync, actions and the project panel.

Sync, per project: list the targets (rows we hold that the list no longer shows are
removed, and their history with them), then read each target's history into Deployment
rows. The adapter core owns the connection cursor, so the resume point is read back from
the Deployment rows already stored:
- a target with no stored history: the newest page (``FIRST``), then older pages
  (``BEFORE`` ``cursor_before``) up to ``options["deployment_backfill_pages"]`` pages
  (default 3, 10 deployments a page);
- otherwise ``AFTER`` the newest stored ``triggered_at`` (unix microseconds), following
  ``cursor_after`` until it is 0; when some stored deployment is still ``PENDING`` the
  scan starts just before the oldest such one, so its final state is read again.
Each page is its own batch, so an interrupted sync resumes from what was committed
(history older than a first sync's backfill is then not fetched, by design).

Every write carrying ``unique_token`` (create, update, delete) is idempotent at
Semaphore, so our client retries them like GETs; the token is a fresh UUID per form
shown, so pressing the same form twice creates one target.

Assumptions where the docs are silent:
- a deployment's ``pipeline_id`` is the pipeline the promotion started; it links the
  Deployment row to that Build when we hold it;
- ``options["sync_deployments"] = False`` skips this part of the sync;
- in our form, empty subject rules mean "anyone" and empty object rules "every branch,
  tag and pull request" (Semaphore's defaults on create; sent explicitly on update);
  empty env vars and files on update leave them unchanged (Semaphore never shows their
  values back)."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from django import forms

from providers.base.adapter import Action
from providers.base.errors import ProviderError
from providers.base.forms import ActionForm, KeyValueField
from providers.base.parse import integer, items, obj, text, timestamp
from providers.base.records import ActionResult, Batch, ProjectRecord, RowRecord

from .retention import retention_panel

if TYPE_CHECKING:
    from django.http import HttpRequest

    from dashboard.models import Project

V1 = "/api/v1alpha"
BACKFILL_PAGES = 3
MAX_HISTORY_PAGES = 200
SUBJECT_TYPES = ("USER", "ROLE", "GROUP", "AUTO", "ANY")
OBJECT_TYPES = ("BRANCH", "TAG", "PR")
MATCH_MODES = ("ALL", "EXACT", "REGEX")
GIT_REF_TYPES = (("", "any ref"), ("branch", "branch"), ("tag", "tag"), ("pr", "pull request"))
FILE_HEADER = re.compile(r"^==> (.+?) <==\s*$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(moment: datetime) -> int:
    """A moment as the history's cursor unit, unix microseconds, without float rounding."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


# Rows ---------------------------------------------------------------------------------------
def target_row(body: Any, project_id: str | None = None) -> RowRecord | None:
    body = obj(body)
    target_id = text(body.get("id"), 255)
    if not target_id:
        return None
    project_id = text(body.get("project_id"), 255) or project_id
    active = body.get("active")
    return RowRecord(
        model="deployment_target",
        external_id=target_id,
        fields={
            "name": text(body.get("name"), 255) or target_id,
            "description": text(body.get("description"), 10_000),
            "url": text(body.get("url"), 500),
            "state": text(body.get("state"), 32),
            "state_message": text(body.get("state_message"), 10_000),
            "active": active if isinstance(active, bool) else True,
            "created_at": timestamp(body.get("created_at")),
            "updated_at": timestamp(body.get("updated_at")),
            "raw": body,
        },
        refs={"project": ("project", project_id or None)},
    )


def deployment_row(body: Any, target_id: str) -> RowRecord | None:
    body = obj(body)
    deployment_id = text(body.get("id"), 255)
    if not deployment_id:
        return None
    pipeline_id = text(body.get("pipeline_id"), 255)
    return RowRecord(
        model="deployment",
        external_id=deployment_id,
        fields={
            "pipeline_external_id": pipeline_id,
            "triggered_by": text(body.get("triggered_by"), 255),
            "triggered_at": timestamp(body.get("triggered_at")),
            "state": text(body.get("state"), 32),
            "state_message": text(body.get("state_message"), 10_000),
            "raw": body,
        },
        refs={"target": ("deployment_target", target_id), "build": ("build", pipeline_id or None)},
    )


# Client ---------------------------------------------------------------------------------------
@dataclass
class HistoryPage:
    """One page of a target's history, newest first; a cursor of 0 means "none that way"."""

    deployments: list[dict]
    cursor_before: int
    cursor_after: int


def encoded_files(files: list[tuple[str, str | bytes]] | None) -> list[dict] | None:
    if files is None:
        return None
    return [
        {"path": path, "content": base64.b64encode(content.encode() if isinstance(content, str) else content).decode()}
        for path, content in files
    ]


def env_list(env_vars: dict[str, str] | None) -> list[dict] | None:
    return None if env_vars is None else [{"name": k, "value": v} for k, v in env_vars.items()]


class DeploymentsClientMixin:
    """Client calls for deployment targets and their history; mixed into SemaphoreClient."""

    def deployment_targets(self, project_id: str, target_name: str | None = None) -> list[dict]:
        params = {"project_id": project_id}
        if target_name:
            params["target_name"] = target_name
        body = self.expect(self.get_json(f"{V1}/deployment_targets", params=params), list, "the targets list")
        return [obj(t) for t in body]

    def find_deployment_target(self, project_id: str, name: str) -> dict | None:
        """The project's target of this name, or None (Semaphore answers an empty list)."""
        found = self.deployment_targets(project_id, target_name=name)
        return found[0] if found else None

    def deployment_target(self, target_id: str) -> dict:
        return self.expect(self.get_json(f"{V1}/deployment_targets/{quote(target_id, safe='')}"), dict, "the target")

    def create_deployment_target(
        self,
        project_id: str,
        fields: dict,
        *,
        unique_token: str,
        env_vars: dict[str, str] | None = None,
        files: list[tuple[str, str | bytes]] | None = None,
    ) -> dict:
        """``files`` are (path, content) pairs; their content is base64-encoded here."""
        payload = {**fields, "project_id": project_id, "unique_token": unique_token}
        payload.update(
            {k: v for k, v in (("env_vars", env_list(env_vars)), ("files", encoded_files(files))) if v is not None}
        )
        response = self.request(
            "POST", f"{V1}/deployment_targets", params={"project_id": project_id}, json=payload, idempotent=True
        )
        return self.expect(self.parse_json(response), dict, "the created target")

    def update_deployment_target(
        self,
        target_id: str,
        fields: dict,
        *,
        unique_token: str,
        env_vars: dict[str, str] | None = None,
        files: list[tuple[str, str | bytes]] | None = None,
    ) -> dict:
        payload = {**fields, "unique_token": unique_token}
        payload.update(
            {k: v for k, v in (("env_vars", env_list(env_vars)), ("files", encoded_files(files))) if v is not None}
        )
        response = self.request(
            "PATCH", f"{V1}/deployment_targets/{quote(target_id, safe='')}", json=payload, idempotent=True
        )
        return self.expect(self.parse_json(response), dict, "the target")

    def delete_deployment_target(self, target_id: str, unique_token: str) -> str:
        response = self.request(
            "DELETE", f"{V1}/deployment_targets/{quote(target_id, safe='')}", params={"unique_token": unique_token}
        )
        return text(obj(self.parse_json(response)).get("target_id")) or target_id

    def _cordon(self, target_id: str, verb: str) -> bool:
        response = self.request("PATCH", f"{V1}/deployment_targets/{quote(target_id, safe='')}/{verb}", idempotent=True)
        body = self.expect(self.parse_json(response), dict, f"the {verb} answer")
        return bool(body.get("cordoned"))

    def activate_deployment_target(self, target_id: str) -> bool:
        """Returns ``cordoned`` as Semaphore answers it (False once active)."""
        return self._cordon(target_id, "activate")

    def deactivate_deployment_target(self, target_id: str) -> bool:
        return self._cordon(target_id, "deactivate")

    def deployment_history(
        self,
        target_id: str,
        *,
        cursor_type: str = "FIRST",
        cursor_value: int | None = None,
        git_ref_type: str = "",
        git_ref_label: str = "",
        triggered_by: str = "",
    ) -> HistoryPage:
        params: dict[str, Any] = {"cursor_type": cursor_type}
        if cursor_value is not None and cursor_type != "FIRST":
            params["cursor_value"] = int(cursor_value)
        params.update(
            {
                k: v
                for k, v in (
                    ("git_ref_type", git_ref_type),
                    ("git_ref_label", git_ref_label),
                    ("triggered_by", triggered_by),
                )
                if v
            }
        )
        body = self.expect(
            self.get_json(f"{V1}/deployment_targets/{quote(target_id, safe='')}/history", params=params),
            dict,
            "the history answer",
        )
        return HistoryPage(
            deployments=[obj(d) for d in self.expect(body.get("deployments") or [], list, "deployments")],
            cursor_before=integer(body.get("cursor_before")) or 0,
            cursor_after=integer(body.get("cursor_after")) or 0,
        )


# Forms ----------------------------------------------------------------------------------------
def parse_subject_rules(value: str) -> list[dict]:
    rules, errors = [], []
    for number, line in enumerate((value or "").splitlines(), start=1):
        if not line.strip():
            continue
        word, _, arg = line.strip().partition(" ")
        kind, arg = word.upper(), arg.strip()
        if kind not in SUBJECT_TYPES:
            errors.append(f"Line {number}: {word!r} is not one of {', '.join(SUBJECT_TYPES)}.")
        elif kind in ("ANY", "AUTO") and arg:
            errors.append(f"Line {number}: {kind} takes nothing after it.")
        elif kind in ("USER", "ROLE", "GROUP") and not arg:
            needs = {"USER": "a user id or git login", "ROLE": "a role name", "GROUP": "a group id"}[kind]
            errors.append(f"Line {number}: {kind} needs {needs}.")
        elif kind == "USER" and not _is_uuid(arg):
            rules.append({"type": "USER", "git_login": arg})
        else:
            rules.append({"type": kind, "subject_id": arg})
    if errors:
        raise forms.ValidationError(errors)
    return rules


def parse_object_rules(value: str) -> list[dict]:
    rules, errors = [], []
    for number, line in enumerate((value or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.strip().split(None, 2)
        kind = parts[0].upper()
        mode = parts[1].upper() if len(parts) > 1 else "ALL"
        pattern = parts[2].strip() if len(parts) > 2 else ""
        if kind not in OBJECT_TYPES:
            errors.append(f"Line {number}: {parts[0]!r} is not BRANCH, TAG or PR.")
        elif mode not in MATCH_MODES:
            errors.append(f"Line {number}: {parts[1]!r} is not ALL, EXACT or REGEX.")
        elif mode == "ALL" and pattern:
            errors.append(f"Line {number}: ALL takes no pattern.")
        elif mode != "ALL" and not pattern:
            errors.append(f"Line {number}: {mode} needs a pattern, e.g. {kind} {mode} main.")
        elif mode == "REGEX" and _regex_problem(pattern):
            errors.append(f"Line {number}: the pattern is not a valid regular expression ({_regex_problem(pattern)}).")
        else:
            rules.append({"type": kind, "match_mode": mode, "pattern": pattern})
    if errors:
        raise forms.ValidationError(errors)
    return rules


def parse_files(value: str) -> list[tuple[str, str]]:
    """``==> /path <==`` header lines, each followed by that file's content."""
    files: list[tuple[str, list[str]]] = []
    for number, line in enumerate((value or "").splitlines(keepends=True), start=1):
        header = FILE_HEADER.match(line.rstrip("\r\n"))
        if header:
            files.append((header.group(1).strip(), []))
        elif files:
            files[-1][1].append(line)
        elif line.strip():
            raise forms.ValidationError(
                f"Line {number}: start each file with a line ==> /path/to/file <== and put its content below."
            )
    return [(path, "".join(lines)) for path, lines in files]


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _regex_problem(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        return str(exc)
    return ""


def subject_rules_text(rules: Any) -> str:
    lines = []
    for rule in items(rules):
        rule = obj(rule)
        kind = text(rule.get("type"))
        arg = text(rule.get("git_login")) or text(rule.get("subject_id"))
        lines.append(f"{kind} {arg}".strip())
    return "\n".join(lines)


def object_rules_text(rules: Any) -> str:
    return "\n".join(
        f"{text(obj(r).get('type'))} {text(obj(r).get('match_mode'))} {text(obj(r).get('pattern'))}".strip()
        for r in items(rules)
    )


class TargetForm(ActionForm):
    name = forms.CharField(max_length=255, help_text="Unique within the project; promotions name it.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    url = forms.CharField(required=False, max_length=500, label="URL")
    bookmark_parameter1 = forms.CharField(required=False, max_length=255, label="Bookmark parameter 1")
    bookmark_parameter2 = forms.CharField(required=False, max_length=255, label="Bookmark parameter 2")
    bookmark_parameter3 = forms.CharField(
        required=False,
        max_length=255,
        label="Bookmark parameter 3",
        help_text="Names of promotion parameters the history can be filtered by.",
    )
    subject_rules = forms.CharField(
        required=False,
        label="Who may deploy",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "ANY"}),
        help_text="One per line: ANY, AUTO (automatic promotions), USER <id or git login>, ROLE <name>, "
        "GROUP <id>. Empty: anyone.",
    )
    object_rules = forms.CharField(
        required=False,
        label="Which git refs",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "BRANCH EXACT main\nTAG REGEX ^v[0-9]+"}),
        help_text="One per line: BRANCH, TAG or PR, then ALL, EXACT <name> or REGEX <pattern>. "
        "Empty: every branch, tag and pull request.",
    )
    env_vars = KeyValueField(required=False, label="Environment variables")
    files = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "==> /etc/app/config.yml <==\nkey: value"}),
        help_text="A line ==> /path/to/file <== then the file's content; repeat for more files.",
    )
    unique_token = forms.CharField(widget=forms.HiddenInput, initial=lambda: str(uuid.uuid4()))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from dashboard.models import DeploymentTarget

        if isinstance(self.target, DeploymentTarget):
            raw = obj(self.target.raw)
            for name in (
                "name",
                "description",
                "url",
                "bookmark_parameter1",
                "bookmark_parameter2",
                "bookmark_parameter3",
            ):
                self.fields[name].initial = text(raw.get(name), 10_000) or getattr(self.target, name, "")
            self.fields["subject_rules"].initial = subject_rules_text(raw.get("subject_rules"))
            self.fields["object_rules"].initial = object_rules_text(raw.get("object_rules"))
            keep = " Leave empty to keep the current ones (Semaphore does not show their values)."
            self.fields["env_vars"].help_text = "NAME=value, one per line." + keep
            self.fields["files"].help_text += keep

    def clean_subject_rules(self) -> list[dict]:
        return parse_subject_rules(self.cleaned_data.get("subject_rules", ""))

    def clean_object_rules(self) -> list[dict]:
        return parse_object_rules(self.cleaned_data.get("object_rules", ""))

    def clean_files(self) -> list[tuple[str, str]]:
        return parse_files(self.cleaned_data.get("files", ""))

    def clean_unique_token(self) -> str:
        token = self.cleaned_data["unique_token"].strip()
        if not _is_uuid(token):
            raise forms.ValidationError("The form's request token is not a UUID; reload the form.")
        return token


def target_fields(params: dict, creating: bool) -> dict:
    fields = {
        name: (params.get(name) or "").strip()
        for name in ("name", "description", "url", "bookmark_parameter1", "bookmark_parameter2", "bookmark_parameter3")
    }
    subjects, objects = params.get("subject_rules") or [], params.get("object_rules") or []
    if subjects or not creating:
        fields["subject_rules"] = subjects or [{"type": "ANY", "subject_id": ""}]
    if objects or not creating:
        fields["object_rules"] = objects or [{"type": t, "match_mode": "ALL", "pattern": ""} for t in OBJECT_TYPES]
    return fields


class HistoryFilterForm(forms.Form):
    """The project panel's GET form over one target's history (prefixed names: the
    project page uses ``after`` for its own paging)."""

    dt = forms.CharField(required=False)
    dt_ref_type = forms.ChoiceField(required=False, choices=GIT_REF_TYPES)
    dt_ref_label = forms.CharField(required=False, max_length=255)
    dt_triggered_by = forms.CharField(required=False, max_length=255)
    dt_cursor = forms.CharField(required=False)

    def clean_dt_cursor(self) -> tuple[str, int | None]:
        value = (self.cleaned_data.get("dt_cursor") or "").strip()
        if not value:
            return "FIRST", None
        kind, _, number = value.partition(":")
        if kind not in ("before", "after") or not number.isdigit():
            raise forms.ValidationError("Unknown history position; showing the newest.")
        return kind.upper(), int(number)


# Adapter --------------------------------------------------------------------------------------
class DeploymentsAdapterMixin:
    """Sync and actions for deployment targets; mixed into SemaphoreAdapter."""

    DEPLOYMENTS_ACTIONS: tuple[Action, ...] = (
        Action(
            name="create_deployment_target",
            label="New deployment target",
            target="project",
            form=TargetForm,
            secret_fields=("env_vars", "files"),
        ),
        Action(
            name="update_deployment_target",
            label="Edit",
            target="deployment_target",
            form=TargetForm,
            secret_fields=("env_vars", "files"),
        ),
        Action(
            name="activate_deployment_target",
            label="Activate",
            target="deployment_target",
            applies=lambda t: not t.active,
            help="Promotions may deploy to it again.",
        ),
        Action(
            name="deactivate_deployment_target",
            label="Deactivate",
            target="deployment_target",
            destructive=True,
            applies=lambda t: t.active,
            help="Promotions to this target are blocked until it is activated again.",
        ),
        Action(
            name="delete_deployment_target",
            label="Delete",
            target="deployment_target",
            destructive=True,
            help="The target, its settings and its history go.",
        ),
    )

    def sync_deployments(self, projects: list[ProjectRecord]) -> Iterator[Batch]:
        if not self.options.get("sync_deployments", True):
            return
        from dashboard.models import DeploymentTarget

        for project in projects:
            batch = Batch()
            listed = self.attempt(
                batch, f"deployment targets of {project.name}", self.client.deployment_targets, project.external_id
            )
            if listed is None:
                yield batch
                continue
            rows = [r for r in (target_row(t, project.external_id) for t in listed) if r]
            batch.rows += rows
            ids = {r.external_id for r in rows}
            stored = DeploymentTarget.objects.filter(
                connection_id=self.connection.pk, project__external_id=project.external_id
            ).values_list("external_id", flat=True)
            batch.removed += [("deployment_target", target_id) for target_id in stored if target_id not in ids]
            yield batch
            for row in rows:
                yield from self.sync_history(row.external_id, row.fields["name"])

    def sync_history(self, target_id: str, name: str) -> Iterator[Batch]:
        from dashboard.models import Deployment

        stored = Deployment.objects.filter(
            connection_id=self.connection.pk, target__external_id=target_id, triggered_at__isnull=False
        )
        pending = stored.filter(state="PENDING").order_by("triggered_at").values_list("triggered_at", flat=True).first()
        newest = stored.order_by("-triggered_at").values_list("triggered_at", flat=True).first()
        what = f"deployment history of {name}"
        if newest is None:
            cursor_type, value = "FIRST", None
            limit, follow = max(1, integer(self.options.get("deployment_backfill_pages")) or BACKFILL_PAGES), "before"
        else:
            cursor_type, value = "AFTER", micros(pending) - 1 if pending else micros(newest)
            limit, follow = MAX_HISTORY_PAGES, "after"
        for _ in range(limit):
            batch = Batch()
            page = self.attempt(
                batch, what, self.client.deployment_history, target_id, cursor_type=cursor_type, cursor_value=value
            )
            if page is not None:
                batch.rows += [r for r in (deployment_row(d, target_id) for d in page.deployments) if r]
            yield batch
            value = getattr(page, f"cursor_{follow}", 0) if page is not None else 0
            if not value:
                return
            cursor_type = follow.upper()

    # Actions ----------------------------------------------------------------------------------
    def do_create_deployment_target(self, target: Any, params: dict, user: Any) -> ActionResult:
        body = self.client.create_deployment_target(
            target.external_id,
            target_fields(params, creating=True),
            unique_token=params["unique_token"],
            env_vars=params.get("env_vars") or None,
            files=params.get("files") or None,
        )
        row = target_row(body, target.external_id)
        return ActionResult(
            f"Deployment target {text(body.get('name')) or params['name']} created in {target.name}; "
            f"Semaphore reports it {text(body.get('state')).lower() or 'created'}.",
            refresh=Batch(rows=[row] if row else []),
        )

    def do_update_deployment_target(self, target: Any, params: dict, user: Any) -> ActionResult:
        body = self.client.update_deployment_target(
            target.external_id,
            target_fields(params, creating=False),
            unique_token=params["unique_token"],
            env_vars=params.get("env_vars") or None,
            files=params.get("files") or None,
        )
        row = target_row(body, _project_id(target))
        return ActionResult(
            f"Deployment target {text(body.get('name')) or target.name} saved; "
            f"Semaphore reports it {text(body.get('state')).lower() or 'updated'}.",
            refresh=Batch(rows=[row] if row else []),
        )

    def do_delete_deployment_target(self, target: Any, params: dict, user: Any) -> ActionResult:
        self.client.delete_deployment_target(target.external_id, str(uuid.uuid4()))
        return ActionResult(
            f"Deployment target {target.name} deleted.",
            refresh=Batch(removed=[("deployment_target", target.external_id)]),
        )

    def do_activate_deployment_target(self, target: Any, params: dict, user: Any) -> ActionResult:
        cordoned = self.client.activate_deployment_target(target.external_id)
        state = "still deactivated" if cordoned else "active: promotions may deploy to it"
        return ActionResult(f"Deployment target {target.name} is {state}.", refresh=self._described(target))

    def do_deactivate_deployment_target(self, target: Any, params: dict, user: Any) -> ActionResult:
        cordoned = self.client.deactivate_deployment_target(target.external_id)
        state = "deactivated: promotions to it are blocked" if cordoned else "still active"
        return ActionResult(f"Deployment target {target.name} is {state}.", refresh=self._described(target))

    def _described(self, target: Any) -> Batch | None:
        try:
            row = target_row(self.client.deployment_target(target.external_id), _project_id(target))
        except ProviderError:  # the action is done; the next sync shows the new state
            return None
        return Batch(rows=[row]) if row else None


def _project_id(target: Any) -> str | None:
    return text(obj(target.raw).get("project_id")) or (target.project.external_id if target.project_id else None)


# Panel ----------------------------------------------------------------------------------------
def project_panel_context(adapter: Any, project: Project, request: HttpRequest | None) -> dict:
    """Context for ``templates/providers/semaphore/project_panel.html``: the project's
    targets (stored), the live history of one of them with the filters and BEFORE/AFTER
    paging of the query string, and the retention policy with its "which rule" check."""
    from dashboard.models import Build, Deployment, DeploymentTarget

    targets = list(
        DeploymentTarget.objects.filter(connection_id=project.connection_id, project=project).order_by("name")
    )
    latest = {}
    for target in targets:
        latest[target.pk] = Deployment.objects.filter(target=target).select_related("build").first()
    query = request.GET if request is not None else None
    form = HistoryFilterForm(query if query is not None else {})
    form.is_valid()  # a bad field is dropped (and shown); the others still apply
    data = form.cleaned_data
    by_id = {t.external_id: t for t in targets}
    selected = by_id.get(data.get("dt") or "") or (targets[0] if targets else None)
    panel: dict[str, Any] = {
        "targets": [{"target": t, "last": latest[t.pk]} for t in targets],
        "selected": selected,
        "filters": form,
        "ref_types": GIT_REF_TYPES,
        "filter_values": {k: data.get(k) or "" for k in ("dt_ref_type", "dt_ref_label", "dt_triggered_by")},
        "history": None,
        "history_error": "",
        "retention": retention_panel(project, request),
    }
    if selected is None:
        return {"panel": panel}
    cursor_type, cursor_value = data.get("dt_cursor") or ("FIRST", None)
    try:
        page = adapter.client.deployment_history(
            selected.external_id,
            cursor_type=cursor_type,
            cursor_value=cursor_value,
            git_ref_type=data.get("dt_ref_type") or "",
            git_ref_label=data.get("dt_ref_label") or "",
            triggered_by=data.get("dt_triggered_by") or "",
        )
    except ProviderError as exc:
        panel["history_error"] = f"Semaphore could not be asked for the history: {exc}"
        return {"panel": panel}
    builds = {
        b.external_id: b
        for b in Build.objects.filter(
            connection_id=project.connection_id,
            external_id__in=[text(d.get("pipeline_id")) for d in page.deployments if d.get("pipeline_id")],
        )
    }
    panel["history"] = [
        {
            "id": text(d.get("id")),
            "state": text(d.get("state")),
            "state_message": text(d.get("state_message")),
            "triggered_by": text(d.get("triggered_by")),
            "triggered_at": timestamp(d.get("triggered_at")),
            "pipeline_id": text(d.get("pipeline_id")),
            "build": builds.get(text(d.get("pipeline_id"))),
            "env_vars": [(text(obj(e).get("name")), text(obj(e).get("value"))) for e in items(d.get("env_vars"))],
        }
        for d in page.deployments
    ]

    def link(cursor: str | None) -> str:
        params = query.copy() if query is not None else None
        if params is None:
            from django.http import QueryDict

            params = QueryDict(mutable=True)
        params["dt"] = selected.external_id
        params.pop("after", None)  # the page's own build paging does not apply to another history page
        if cursor:
            params["dt_cursor"] = cursor
        else:
            params.pop("dt_cursor", None)
        return "?" + params.urlencode() + "#deployment-history"

    panel["older_url"] = link(f"before:{page.cursor_before}") if page.cursor_before else ""
    panel["newer_url"] = link(f"after:{page.cursor_after}") if page.cursor_after else ""
    panel["newest_url"] = link(None) if cursor_type != "FIRST" else ""
    return {"panel": panel}


__all__ = [
    "DeploymentsAdapterMixin",
    "DeploymentsClientMixin",
    "HistoryFilterForm",
    "HistoryPage",
    "TargetForm",
    "deployment_row",
    "micros",
    "parse_files",
    "parse_object_rules",
    "parse_subject_rules",
    "project_panel_context",
    "target_row",
]
