"""The schedule form: a pipeline's variables, one ``name=value`` per line."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms

from providers.base.forms import ActionForm

# Any JSON key works in prunner (``{{ index . "a-b" }}``); spaces are more likely a typo.
NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
RESERVED = "__jobID"  # prunner refuses to run a job that sets its internal job id variable


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
