"""Buttons on deployment targets (docs/providers/semaphore.md, "Deployment targets"):
create, edit, activate, deactivate, delete.

Editing sends only what was given: Semaphore keeps every field a PATCH leaves out, so
an API call naming one field changes that field alone. Env vars and files are secrets:
Semaphore never shows their values, so the form starts them empty (left empty: kept as
they are); a line with a name alone keeps that variable's value (``NAME``; for a file
``==> /path <== keep``), by sending back the hidden value Semaphore gave for it.

Every write carries a fresh ``unique_token`` made when the form is drawn, so pressing
the same form twice creates one target."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django import forms

from providers.base.actions import ActionSet
from providers.base.errors import ProviderError, Rejected
from providers.base.forms import ActionForm
from providers.base.parse import items, obj, text
from providers.base.records import ActionResult, Batch

from ..client.deployments import encoded_files
from ..mapping.deployments import target_row

actions = ActionSet()
SUBJECT_TYPES = ("USER", "ROLE", "GROUP", "AUTO", "ANY")
OBJECT_TYPES = ("BRANCH", "TAG", "PR")
MATCH_MODES = ("ALL", "EXACT", "REGEX")
FILE_HEADER = re.compile(r"^==> (.+?) <==\s*(keep)?\s*$")
VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TEXT_FIELDS = ("name", "description", "url", "bookmark_parameter1", "bookmark_parameter2", "bookmark_parameter3")
KEEP = object()  # a secret whose current value stays


# Parsing the form's text boxes ----------------------------------------------------------------
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


def parse_subject_rules(value: str) -> list[dict]:
    """``USER <id or git login>``, ``ROLE <name>``, ``GROUP <id>``, ``AUTO``, ``ANY``."""
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
    """``BRANCH|TAG|PR`` then ``ALL``, ``EXACT <name>`` or ``REGEX <pattern>``."""
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


def parse_env_vars(value: str, *, keep_allowed: bool) -> dict[str, Any]:
    """``NAME=value`` lines; when editing, ``NAME`` alone keeps that variable's value."""
    found: dict[str, Any] = {}
    errors = []
    for number, line in enumerate((value or "").splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, val = line.partition("=")
        name = name.strip()
        if not VAR_NAME.match(name):
            errors.append(f"Line {number}: {name[:60]!r} is not a valid variable name.")
        elif not sep and not keep_allowed:
            errors.append(f"Line {number} is not NAME=value.")
        else:
            found[name] = val if sep else KEEP
    if errors:
        raise forms.ValidationError(errors)
    return found


def parse_files(value: str, *, keep_allowed: bool) -> list[tuple[str, Any]]:
    """``==> /path <==`` header lines, each followed by that file's content; when
    editing, ``==> /path <== keep`` keeps that file as it is."""
    files: list[tuple[str, list[str] | object]] = []
    for number, line in enumerate((value or "").splitlines(keepends=True), start=1):
        header = FILE_HEADER.match(line.rstrip("\r\n"))
        if header:
            if header.group(2) and not keep_allowed:
                raise forms.ValidationError(f"Line {number}: 'keep' applies only when editing a target.")
            files.append((header.group(1).strip(), KEEP if header.group(2) else []))
        elif files and files[-1][1] is not KEEP:
            files[-1][1].append(line)
        elif line.strip():
            raise forms.ValidationError(
                f"Line {number}: start each file with a line ==> /path/to/file <== and put its content below."
            )
    return [(path, KEEP if lines is KEEP else "".join(lines)) for path, lines in files]


def subject_rules_text(rules: Any) -> str:
    lines = []
    for rule in items(rules):
        rule = obj(rule)
        arg = text(rule.get("git_login")) or text(rule.get("subject_id"))
        lines.append(f"{text(rule.get('type'))} {arg}".strip())
    return "\n".join(lines)


def object_rules_text(rules: Any) -> str:
    return "\n".join(
        f"{text(obj(r).get('type'))} {text(obj(r).get('match_mode'))} {text(obj(r).get('pattern'))}".strip()
        for r in items(rules)
    )


# The form -------------------------------------------------------------------------------------
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
    env_vars = forms.CharField(
        required=False,
        label="Environment variables",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "NAME=value, one per line"}),
    )
    files = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "==> /etc/app/config.yml <==\nkey: value"}),
        help_text="A line ==> /path/to/file <== then the file's content; repeat for more files.",
    )
    unique_token = forms.CharField(widget=forms.HiddenInput, required=False, initial=lambda: str(uuid.uuid4()))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.editing = hasattr(self.target, "active") and isinstance(getattr(self.target, "raw", None), dict)
        if not self.editing:
            return
        raw = obj(self.target.raw)
        for name in TEXT_FIELDS:
            self.fields[name].initial = text(raw.get(name), 10_000) or getattr(self.target, name, "")
            self.fields[name].required = False
        self.fields["subject_rules"].initial = subject_rules_text(raw.get("subject_rules"))
        self.fields["object_rules"].initial = object_rules_text(raw.get("object_rules"))
        self.fields["env_vars"].help_text = (
            "NAME=value, one per line: the complete new list. NAME alone keeps that variable's value. "
            "Empty: the variables stay as they are (Semaphore does not show their values)."
        )
        self.fields["files"].help_text += " ==> /path <== keep keeps that file. Empty: the files stay as they are."

    def clean_subject_rules(self) -> list[dict]:
        return parse_subject_rules(self.cleaned_data.get("subject_rules", ""))

    def clean_object_rules(self) -> list[dict]:
        return parse_object_rules(self.cleaned_data.get("object_rules", ""))

    def clean_env_vars(self) -> dict[str, Any]:
        return parse_env_vars(self.cleaned_data.get("env_vars", ""), keep_allowed=self.editing)

    def clean_files(self) -> list[tuple[str, Any]]:
        return parse_files(self.cleaned_data.get("files", ""), keep_allowed=self.editing)

    def clean_unique_token(self) -> str:
        token = (self.cleaned_data.get("unique_token") or "").strip()
        if not token:
            return str(uuid.uuid4())
        if not _is_uuid(token):
            raise forms.ValidationError("The form's request token is not a UUID; reload the form.")
        return token

    def clean(self) -> dict:
        data = super().clean()
        if self.editing:
            # Only what was sent changes: a field left out of the request is left alone.
            for name in [n for n in list(data) if n != "unique_token" and n not in self.data]:
                data.pop(name)
            if "name" in data and not data["name"].strip():
                self.add_error("name", "A target needs a name.")
        return data


# What is sent ---------------------------------------------------------------------------------
def target_fields(params: dict, *, creating: bool, hidden: dict | None = None) -> dict:
    """The fields to send: on create everything (empty rules: Semaphore's defaults), on
    update only what ``params`` holds. ``hidden``: the current secrets as Semaphore shows
    them (hidden values), for the ones kept."""
    fields: dict[str, Any] = {name: (params[name] or "").strip() for name in TEXT_FIELDS if name in params}
    if "subject_rules" in params and (params["subject_rules"] or not creating):
        fields["subject_rules"] = params["subject_rules"] or [{"type": "ANY", "subject_id": ""}]
    if "object_rules" in params and (params["object_rules"] or not creating):
        fields["object_rules"] = params["object_rules"] or [
            {"type": kind, "match_mode": "ALL", "pattern": ""} for kind in OBJECT_TYPES
        ]
    hidden_vars = {text(obj(e).get("name")): text(obj(e).get("value")) for e in items(obj(hidden).get("env_vars"))}
    hidden_files = {text(obj(f).get("path")): text(obj(f).get("content")) for f in items(obj(hidden).get("files"))}
    if params.get("env_vars"):
        fields["env_vars"] = [
            {"name": name, "value": _kept(hidden_vars, name, "variable") if value is KEEP else value}
            for name, value in params["env_vars"].items()
        ]
    if params.get("files"):
        new = [(path, content) for path, content in params["files"] if content is not KEEP]
        kept = {path: _kept(hidden_files, path, "file") for path, content in params["files"] if content is KEEP}
        encoded = dict((f["path"], f["content"]) for f in encoded_files(new))
        fields["files"] = [
            {"path": path, "content": kept.get(path, encoded.get(path, ""))} for path, _ in params["files"]
        ]
    return fields


def _kept(hidden: dict[str, str], name: str, what: str) -> str:
    if name not in hidden:
        raise Rejected(f"The {what} {name} has no current value to keep; give it a value.")
    return hidden[name]


def _keeps(params: dict) -> bool:
    return any(v is KEEP for v in (params.get("env_vars") or {}).values()) or any(
        c is KEEP for _, c in params.get("files") or []
    )


def _project_id(target: Any) -> str | None:
    return text(obj(target.raw).get("project_id")) or (target.project.external_id if target.project_id else None)


def _described(adapter, target: Any) -> Batch | None:
    try:
        row = target_row(adapter.client.deployment_target(target.external_id), _project_id(target))
    except ProviderError:  # the action is done; the next sync shows the new state
        return None
    return Batch(rows=[row]) if row else None


def _state(body: dict, fallback: str) -> str:
    return text(body.get("state")).lower() or fallback


# The buttons ----------------------------------------------------------------------------------
@actions(
    "create_deployment_target",
    label="New deployment target",
    target="project",
    form=TargetForm,
    secret_fields=("env_vars", "files"),
)
def create_deployment_target(adapter, project, params: dict, user) -> ActionResult:
    body = adapter.client.create_deployment_target(
        project.external_id, target_fields(params, creating=True), unique_token=params["unique_token"]
    )
    row = target_row(body, project.external_id)
    return ActionResult(
        f"Deployment target {text(body.get('name')) or params['name']} created in {project.name}; "
        f"Semaphore reports it {_state(body, 'created')}.",
        refresh=Batch(rows=[row] if row else []),
    )


@actions(
    "update_deployment_target",
    label="Edit",
    target="deployment_target",
    form=TargetForm,
    secret_fields=("env_vars", "files"),
    help="Only the fields sent change; empty env vars and files stay as they are.",
)
def update_deployment_target(adapter, target, params: dict, user) -> ActionResult:
    hidden = adapter.client.deployment_target(target.external_id, include_secrets=True) if _keeps(params) else None
    fields = target_fields(params, creating=False, hidden=hidden)
    body = adapter.client.update_deployment_target(target.external_id, fields, unique_token=params["unique_token"])
    row = target_row(body, _project_id(target))
    changed = ", ".join(sorted(k.replace("_", " ") for k in fields)) or "nothing"
    return ActionResult(
        f"Deployment target {text(body.get('name')) or target.name} saved ({changed}); "
        f"Semaphore reports it {_state(body, 'updated')}.",
        refresh=Batch(rows=[row] if row else []),
    )


@actions(
    "activate_deployment_target",
    label="Activate",
    target="deployment_target",
    applies=lambda t: not t.active,
    help="Promotions may deploy to it again.",
)
def activate_deployment_target(adapter, target, params: dict, user) -> ActionResult:
    cordoned = adapter.client.activate_deployment_target(target.external_id)
    state = "still deactivated" if cordoned else "active: promotions may deploy to it"
    return ActionResult(f"Deployment target {target.name} is {state}.", refresh=_described(adapter, target))


@actions(
    "deactivate_deployment_target",
    label="Deactivate",
    target="deployment_target",
    destructive=True,
    applies=lambda t: t.active,
    help="Promotions to this target are blocked until it is activated again.",
)
def deactivate_deployment_target(adapter, target, params: dict, user) -> ActionResult:
    cordoned = adapter.client.deactivate_deployment_target(target.external_id)
    state = "deactivated: promotions to it are blocked" if cordoned else "still active"
    return ActionResult(f"Deployment target {target.name} is {state}.", refresh=_described(adapter, target))


@actions(
    "delete_deployment_target",
    label="Delete",
    target="deployment_target",
    destructive=True,
    help="The target, its settings and its history go.",
)
def delete_deployment_target(adapter, target, params: dict, user) -> ActionResult:
    adapter.client.delete_deployment_target(target.external_id, str(uuid.uuid4()))
    return ActionResult(
        f"Deployment target {target.name} deleted.",
        refresh=Batch(removed=[("deployment_target", target.external_id)]),
    )
