"""Semaphore artifact retention policies (semaphore.md section 10, seed 002 "Artifact
retention policies"): describe and configure per project, with rules at project,
workflow and job level.

A rule is a double-star glob ``selector`` and an ``age`` ("1 week" .. "12 years"); for an
artifact the first rule whose selector matches its path applies, later ones are not
looked at. ``glob_match`` and ``first_match`` reproduce that so the project panel can
say which rule a typed path falls under.

Assumptions where the docs are silent:
- selectors are matched against the artifact path without its leading ``/`` (the
  artifacts API lists relative paths, the examples' selectors start with ``/``);
  ``**`` spans directories (zero or more), ``*`` and ``?`` stay within one, ``[...]``
  and ``{a,b}`` work as in the doublestar globs Semaphore uses (alternatives within one
  path segment);
- configuring replaces all three levels (we always send all three lists);
- our form accepts week(s)/month(s)/year(s) only, as the docs say, although Semaphore's
  server also takes day(s);
- a project without a policy is synced as a policy with no rules (kept forever)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django import forms

from providers.base.adapter import Action
from providers.base.forms import ActionForm
from providers.base.parse import items, obj, text
from providers.base.records import ActionResult, Batch, ProjectRecord, RowRecord

if TYPE_CHECKING:
    from django.http import HttpRequest

    from dashboard.models import Project

V1 = "/api/v1alpha"
LEVELS = ("project", "workflow", "job")
API_FIELDS = {level: f"{level}_level_retention_policies" for level in LEVELS}
AGE = re.compile(r"^(1[0-2]|[1-9]) (weeks?|months?|years?)$")
AGE_HELP = "use 1 to 12 followed by week(s), month(s) or year(s), e.g. 2 weeks"


# Rules ------------------------------------------------------------------------------------
def age_problem(age: str) -> str:
    """Why ``age`` is not one Semaphore takes, or "" when it is fine."""
    if AGE.match(age):
        return ""
    if not age:
        return f"the age is missing; {AGE_HELP}"
    return f"invalid age '{age}'; {AGE_HELP}"


def parse_rules(value: str, level: str) -> list[dict[str, str]]:
    """``selector age`` lines -> rules, in order; blank lines are skipped. Every bad line
    is reported with its number."""
    rules: list[dict[str, str]] = []
    errors: list[str] = []
    for number, line in enumerate((value or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.strip().rsplit(maxsplit=2)
        if len(parts) == 3:
            selector, age = parts[0], f"{parts[1]} {parts[2]}"
        elif len(parts) == 2 and parts[0].isdigit():
            selector, age = "", " ".join(parts)
        elif len(parts) == 2:
            selector, age = parts
        else:
            selector, age = parts[0], ""
        problem = "a selector glob is required, e.g. /logs/**/*.txt 3 months" if not selector else age_problem(age)
        if problem:
            errors.append(f"Line {number} of the {level} rules ({line.strip()[:60]!r}): {problem}.")
            continue
        rules.append({"selector": selector, "age": age})
    if errors:
        raise forms.ValidationError(errors)
    return rules


def rules_text(rules: Any) -> str:
    return "\n".join(f"{text(obj(r).get('selector'))} {text(obj(r).get('age'))}" for r in items(rules))


def _segment_regex(segment: str) -> str:
    """One path segment of a glob: ``*``, ``?``, ``[...]``, ``{a,b}``; nothing crosses ``/``."""
    out: list[str] = []
    i = 0
    while i < len(segment):
        c = segment[i]
        if c == "*":
            while i + 1 < len(segment) and segment[i + 1] == "*":
                i += 1
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\" and i + 1 < len(segment):
            i += 1
            out.append(re.escape(segment[i]))
        elif c == "[" and segment.find("]", i + 2) > 0:
            end = segment.find("]", i + 2)  # a "]" right after "[" is a member, as in shells
            body = segment[i + 1 : end]
            negate = body[:1] in ("!", "^")
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\").replace("[", "\\[") + "]")
            i = end
        elif c == "{":
            depth, end = 0, -1
            for j in range(i, len(segment)):
                depth += {"{": 1, "}": -1}.get(segment[j], 0)
                if depth == 0:
                    end = j
                    break
            if end < 0:
                out.append(re.escape(c))
            else:
                alternatives = _split_alternatives(segment[i + 1 : end])
                out.append("(?:" + "|".join(_segment_regex(a) for a in alternatives) + ")")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _split_alternatives(body: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for j, c in enumerate(body):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(body[start:j])
            start = j + 1
    parts.append(body[start:])
    return parts


@lru_cache(maxsize=512)
def glob_regex(selector: str) -> re.Pattern[str]:
    """A double-star glob as a regular expression over paths without a leading ``/``:
    a ``**`` segment stands for zero or more directories."""
    segments = selector.strip().lstrip("/").split("/")
    regex, joined = "", False
    for k, segment in enumerate(segments):
        last = k == len(segments) - 1
        if segment == "**":
            if last:
                regex += "(?:/.*)?" if joined else ".*"
            else:
                regex += ("/" if joined else "") + "(?:.*/)?"
                joined = False
        else:
            regex += ("/" if joined else "") + _segment_regex(segment)
            joined = True
    try:
        return re.compile(f"^{regex}$", re.DOTALL)
    except re.error:  # an odd character class: match the selector literally rather than fail
        return re.compile("^" + re.escape(selector.strip().lstrip("/")) + "$")


def glob_match(selector: str, path: str) -> bool:
    """Whether an artifact ``path`` falls under ``selector`` (leading ``/`` optional on both)."""
    return bool(glob_regex(selector).match(path.strip().lstrip("/")))


def first_match(path: str, rules: Any) -> tuple[int, dict] | None:
    """The rule that applies to ``path``: the first whose selector matches (1-based index)."""
    for index, rule in enumerate(items(rules), start=1):
        selector = text(obj(rule).get("selector"))
        if selector and glob_match(selector, path):
            return index, obj(rule)
    return None


def policy_rules(body: Any) -> dict[str, list[dict]]:
    body = obj(body)
    return {
        level: [
            {"selector": text(obj(r).get("selector")), "age": text(obj(r).get("age"))}
            for r in items(body.get(API_FIELDS[level]))
        ]
        for level in LEVELS
    }


def policy_row(project_id: str, body: Any) -> RowRecord:
    return RowRecord(
        model="retention_policy",
        external_id=project_id,
        fields={"rules": policy_rules(body), "raw": obj(body)},
        refs={"project": ("project", project_id)},
    )


# Client ------------------------------------------------------------------------------------
class RetentionClientMixin:
    """Client calls for artifact retention policies; mixed into SemaphoreClient."""

    def retention_policy(self, project_id: str) -> dict:
        body = self.get_json(f"{V1}/artifacts_retention_policies/{project_id}")
        return self.expect(body, dict, "the retention policy")

    def configure_retention_policy(self, project_id: str, rules: dict[str, list[dict]]) -> dict:
        """Replace the project's policy; ``rules`` maps "project"/"workflow"/"job" to
        ``[{"selector", "age"}]``. Sending the same policy twice is harmless, so it is retried."""
        payload: dict[str, Any] = {"project_id": project_id}
        payload.update({API_FIELDS[level]: list(rules.get(level) or []) for level in LEVELS})
        response = self.request("POST", f"{V1}/artifacts_retention_policies", json=payload, idempotent=True)
        return self.expect(self.parse_json(response), dict, "the retention policy")


# Adapter -----------------------------------------------------------------------------------
class RetentionForm(ActionForm):
    project_rules = forms.CharField(
        required=False,
        label="Project-level rules",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "/**/* 1 year"}),
    )
    workflow_rules = forms.CharField(
        required=False,
        label="Workflow-level rules",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "/test-results/**/* 2 weeks"}),
    )
    job_rules = forms.CharField(
        required=False,
        label="Job-level rules",
        help_text="One rule per line: a double-star glob and an age, e.g. /logs/**/*.txt 3 months. "
        "Ages are 1 to 12 week(s), month(s) or year(s). The first matching rule wins.",
        widget=forms.Textarea(
            attrs={"rows": 4, "placeholder": "/screenshots/**/*.png 2 weeks\n/logs/**/*.txt 3 months"}
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        policy = _policy_of(self.target)
        if policy is not None:
            for level in LEVELS:
                self.fields[f"{level}_rules"].initial = rules_text(obj(policy.rules).get(level))

    def clean_project_rules(self) -> list[dict]:
        return parse_rules(self.cleaned_data.get("project_rules", ""), "project")

    def clean_workflow_rules(self) -> list[dict]:
        return parse_rules(self.cleaned_data.get("workflow_rules", ""), "workflow")

    def clean_job_rules(self) -> list[dict]:
        return parse_rules(self.cleaned_data.get("job_rules", ""), "job")

    def clean(self) -> dict:
        data = super().clean()
        if not self.errors and not any(data.get(f"{level}_rules") for level in LEVELS):
            raise forms.ValidationError("Give at least one rule: Semaphore needs a rule on at least one level.")
        return data


def _policy_of(target: Any):
    from dashboard.models import Project, RetentionPolicy

    if isinstance(target, RetentionPolicy):
        return target
    if isinstance(target, Project):
        return RetentionPolicy.objects.filter(connection_id=target.connection_id, project=target).first()
    return None


class RetentionAdapterMixin:
    """Sync and actions for artifact retention policies; mixed into SemaphoreAdapter."""

    RETENTION_ACTIONS: tuple[Action, ...] = (
        Action(
            name="configure_retention",
            label="Configure artifact retention",
            target="project",
            form=RetentionForm,
            help="Artifacts are kept forever unless a rule says otherwise.",
        ),
        Action(
            name="edit_retention",
            label="Edit retention rules",
            target="retention_policy",
            form=RetentionForm,
        ),
    )

    def sync_retention(self, projects: list[ProjectRecord]) -> Iterator[Batch]:
        if not self.options.get("sync_retention", True):
            return
        batch = Batch()
        for project in projects:
            body = self.attempt(
                batch, f"retention policy of {project.name}", self.client.retention_policy, project.external_id
            )
            if body is not None:
                batch.rows.append(policy_row(project.external_id, body))
        yield batch

    def do_configure_retention(self, target: Any, params: dict, user: Any) -> ActionResult:
        project_id = target.external_id  # a project, or its policy, whose external id is the project's
        rules = {level: params.get(f"{level}_rules") or [] for level in LEVELS}
        body = self.client.configure_retention_policy(project_id, rules)
        saved = policy_rules(body)
        counts = ", ".join(f"{level} {len(saved[level])}" for level in LEVELS)
        return ActionResult(
            message=f"Artifact retention rules saved ({counts}).",
            refresh=Batch(rows=[policy_row(project_id, body)]),
        )

    do_edit_retention = do_configure_retention


def retention_panel(project: Project, request: HttpRequest | None) -> dict:
    """The project's stored policy and, for a path typed into the panel's small form,
    the rule that applies to it (``rp_path``, ``rp_level`` in the query string)."""
    policy = _policy_of(project)
    rules = obj(policy.rules) if policy is not None else {}
    query = request.GET if request is not None else {}
    path = (query.get("rp_path") or "").strip()
    level = query.get("rp_level") if query.get("rp_level") in LEVELS else "job"
    check = None
    if path:
        found = first_match(path, rules.get(level))
        check = {
            "path": path,
            "level": level,
            "index": found[0] if found else None,
            "rule": found[1] if found else None,
        }
    return {
        "policy": policy,
        "levels": [(level_name, items(rules.get(level_name))) for level_name in LEVELS],
        "has_rules": any(items(rules.get(level_name)) for level_name in LEVELS),
        "check": check,
        "check_level": level,
        "check_path": path,
        "level_names": LEVELS,
    }


__all__ = [
    "RetentionAdapterMixin",
    "RetentionClientMixin",
    "RetentionForm",
    "age_problem",
    "first_match",
    "glob_match",
    "parse_rules",
    "retention_panel",
]
