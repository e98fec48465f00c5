"""The action endpoint's schema, generated from what the providers declare.

``POST /api/actions/{kind}/{slug}/{action_name}/{target}/{external_id}`` is one URL
pattern, but what it takes depends on the action. This module turns every registered
provider's actions (``providers.registry.KINDS``, ``adapter_class(kind).actions``: each an
``Action`` with ``name``, ``target``, ``form`` and ``destructive``) into one documented
operation per provider and action, whose request body is the JSON Schema of the
action's Django form. It relies on nothing else about providers, so a new provider or a
new button appears in the schema and the docs without editing this file.

Fields that a form adds in ``__init__`` (from its target) are not in its class and so
not in the schema; the endpoint still validates them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django import forms

from providers.registry import KINDS, LABELS, adapter_class

GENERIC_PATH = "/api/actions/{kind}/{slug}/{action_name}/{target}/{external_id}"


@dataclass(frozen=True)
class DocumentedAction:
    kind: str
    name: str
    target: str
    label: str
    help: str
    destructive: bool
    form: type | None

    @property
    def path(self) -> str:
        return f"/api/actions/{self.kind}/{{slug}}/{self.name}/{self.target}/{{external_id}}"

    @property
    def component(self) -> str:
        camel = "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", f"{self.kind}_{self.name}") if part)
        return f"{camel}ActionRequest"


def registered_actions() -> Iterator[DocumentedAction]:
    for kind in KINDS:
        for action in adapter_class(kind).actions:
            yield DocumentedAction(
                kind=kind,
                name=action.name,
                target=action.target,
                label=getattr(action, "label", "") or action.name.replace("_", " ").capitalize(),
                help=getattr(action, "help", "") or "",
                destructive=bool(action.destructive),
                form=action.form,
            )


def _choices(field: forms.ChoiceField) -> list[Any]:
    values = []
    for value, label in field.choices:
        if isinstance(label, (list, tuple)):  # an option group
            values.extend(v for v, _ in label)
        else:
            values.append(value)
    return values


def field_schema(field: forms.Field) -> dict[str, Any]:
    """JSON Schema for the JSON value a Django form field accepts."""
    if isinstance(field, forms.BooleanField):
        schema: dict[str, Any] = {"type": "boolean"}
        if field.required:  # Django's required checkbox must be ticked
            schema["enum"] = [True]
    elif isinstance(field, forms.IntegerField):
        schema = {"type": "integer"}
    elif isinstance(field, (forms.FloatField, forms.DecimalField)):
        schema = {"type": "number"}
    elif isinstance(field, forms.MultipleChoiceField):
        schema = {"type": "array", "items": {"enum": _choices(field)}}
    elif isinstance(field, forms.ChoiceField):
        values = _choices(field)
        schema = {"enum": values if field.required or "" in values else [*values, ""]}
    elif isinstance(field, forms.DateTimeField):
        schema = {"type": "string", "format": "date-time"}
    elif isinstance(field, forms.DateField):
        schema = {"type": "string", "format": "date"}
    elif isinstance(field, forms.JSONField):
        schema = {}
    else:
        schema = {"type": "string"}
        if isinstance(field, forms.URLField):
            schema["format"] = "uri"
        elif isinstance(field, forms.EmailField):
            schema["format"] = "email"
    for attr, key in (("min_value", "minimum"), ("max_value", "maximum")):
        value = getattr(field, attr, None)
        if isinstance(value, (int, float)) and schema.get("type") in ("integer", "number"):
            schema[key] = value
    if schema.get("type") == "string":
        if getattr(field, "max_length", None):
            schema["maxLength"] = field.max_length
        # Django refuses NUL characters in text, and (stripping it) takes only spaces as empty.
        if field.required:
            schema["minLength"] = max(getattr(field, "min_length", None) or 0, 1)
            schema["pattern"] = r"^[^\x00]*[^\s\x00][^\x00]*$" if getattr(field, "strip", False) else r"^[^\x00]+$"
        else:
            schema["pattern"] = r"^[^\x00]*$"
    if field.label:
        schema["title"] = str(field.label)
    description = str(field.help_text or "")
    if isinstance(field.widget, forms.HiddenInput):
        description = (description + " " if description else "") + "A fresh unique value per request (idempotency key)."
    if description:
        schema["description"] = description
    return schema


def request_schema(action: DocumentedAction) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    fields = action.form.base_fields if action.form is not None else {}
    for name, field in fields.items():
        properties[name] = field_schema(field)
        if field.required:
            required.append(name)
    if action.destructive:
        properties["confirm"] = {
            "type": "boolean",
            "enum": [True],
            "description": f"{action.label} cannot be undone: send true to confirm.",
        }
        required.append("confirm")
    schema: dict[str, Any] = {"type": "object", "title": f"{LABELS.get(action.kind, action.kind)}: {action.label}"}
    schema["properties"] = properties
    if required:
        schema["required"] = required
    return schema


def _describe(action: DocumentedAction) -> str:
    lines = [action.help] if action.help else []
    target = "the connection itself (use `-` as `external_id`)" if action.target == "connection" else action.target
    lines.append(f"Acts on: {target}. Only operators may press it; every call is written to the action log.")
    if action.destructive:
        lines.append('It cannot be undone, so the body must say `"confirm": true`.')
    return "\n\n".join(lines)


def expand_actions(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: replace the generic action operation with one
    operation per provider and action, each with its parameters as its request body."""
    paths = result.get("paths", {})
    generic = paths.get(GENERIC_PATH, {}).get("post")
    if generic is None:
        return result
    kept_parameters = [p for p in generic.get("parameters", []) if p.get("name") in ("slug", "external_id")]
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    expanded: dict[str, dict] = {}
    for action in registered_actions():
        schemas[action.component] = request_schema(action)
        body_required = bool(schemas[action.component].get("required"))
        operation = {
            **generic,
            "operationId": f"action_{action.kind}_{action.name}",
            "summary": f"{action.label} ({LABELS.get(action.kind, action.kind)})",
            "description": _describe(action),
            "tags": [f"actions: {action.kind}"],
            "parameters": kept_parameters,
            "requestBody": {
                "required": body_required,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{action.component}"}},
                },
            },
        }
        expanded.setdefault(action.path, {})["post"] = operation
    # Same place in the document as the generic path, so the docs keep their order.
    result["paths"] = {}
    for path, item in paths.items():
        if path == GENERIC_PATH:
            result["paths"].update(expanded)
        else:
            result["paths"][path] = item
    return result
