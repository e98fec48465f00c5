"""Buttons on artifact retention (docs/providers/semaphore.md, "Artifact retention"):
configure a project's rules, edit them. A rule is a double-star glob ``selector`` and an
``age`` ("1 week" .. "12 years"); configuring replaces all three levels (we always send
all three lists). Our form takes week(s)/month(s)/year(s) only, as the docs say,
although Semaphore's server also takes day(s)."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from providers.base.actions import ActionSet
from providers.base.forms import ActionForm
from providers.base.parse import items, obj, text
from providers.base.records import ActionResult, Batch

from ..mapping.retention import LEVELS, policy_row, policy_rules

actions = ActionSet()
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


def policy_of(target: Any):
    """The stored policy of a project, or the policy itself."""
    if hasattr(target, "rules"):
        return target
    if hasattr(target, "retentionpolicy_set"):
        return target.retentionpolicy_set.first()
    return None


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
        policy = policy_of(self.target)
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


@actions(
    "configure_retention",
    label="Configure artifact retention",
    target="project",
    form=RetentionForm,
    help="Artifacts are kept forever unless a rule says otherwise.",
)
def configure_retention(adapter, target, params: dict, user) -> ActionResult:
    project_id = target.external_id  # a project, or its policy, whose external id is the project's
    rules = {level: params.get(f"{level}_rules") or [] for level in LEVELS}
    body = adapter.client.configure_retention_policy(project_id, rules)
    saved = policy_rules(body)
    counts = ", ".join(f"{level} {len(saved[level])}" for level in LEVELS)
    return ActionResult(
        message=f"Artifact retention rules saved ({counts}).",
        refresh=Batch(rows=[policy_row(project_id, body)]),
    )


@actions("edit_retention", label="Edit retention rules", target="retention_policy", form=RetentionForm)
def edit_retention(adapter, target, params: dict, user) -> ActionResult:
    return configure_retention(adapter, target, params, user)
