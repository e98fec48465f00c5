"""Error answers in the schema: every operation says what it answers when the caller is
not logged in or not allowed, when a path names nothing, and when a parameter is wrong,
so clients (and schemathesis) can rely on the documented statuses."""

from __future__ import annotations

from providers.registry import KINDS

# What the URL patterns accept in each path segment (Django's converters), so generated
# and hand-written calls alike know a value the router would not even route.
PATH_PARAMETERS = {
    "kind": {"type": "string", "enum": list(KINDS), "description": "The provider kind."},
    "slug": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$", "description": "The connection's slug."},
    # Django's ``path`` converter: anything but a line break.
    "external_id": {"type": "string", "pattern": "^[^\\n]+$", "description": "The provider's own id."},
}

NO_NUL = r"^[^\x00]*$"
# Lists that exist only while some connection's provider has the capability.
GATED_LISTS = {
    "/api/agent-types/",
    "/api/agents/",
    "/api/deployment-targets/",
    "/api/deployments/",
    "/api/retention-policies/",
    "/api/schedules/",
}
ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    "description": "What went wrong, in words.",
}
FIELD_ERRORS = {
    "type": "object",
    "additionalProperties": {},
    "description": "Each wrong parameter with its messages (or `detail`).",
}


def _json(ref: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


def document_errors(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR)
    schemas.setdefault("FieldErrors", FIELD_ERRORS)
    error, field_errors = "#/components/schemas/Error", "#/components/schemas/FieldErrors"
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            parameters = operation.get("parameters", [])
            for parameter in parameters:
                schema = parameter.get("schema", {})
                if parameter.get("in") == "path" and parameter.get("name") in PATH_PARAMETERS:
                    parameter["schema"] = dict(PATH_PARAMETERS[parameter["name"]])
                elif schema.get("type") == "string" and not ({"format", "enum", "pattern"} & set(schema)):
                    schema["pattern"] = NO_NUL  # Django's form fields refuse NUL characters
            responses.setdefault("401", _json(error, "Not logged in (session or basic auth)."))
            responses.setdefault("403", _json(error, "Logged in, but not allowed."))
            in_path = any(p.get("in") == "path" for p in parameters)
            paged = any(p.get("name") == "cursor" for p in parameters)
            if in_path or paged:
                responses.setdefault("404", _json(error, "No such object (or a stale page cursor)."))
            if path in GATED_LISTS:
                responses.setdefault("404", _json(error, "No connected provider has this (dashboard.capabilities)."))
            responses.setdefault("429", _json(error, "Too many requests, or too many failed logins: wait and retry."))
            if operation.get("requestBody") or any(p.get("in") == "query" for p in parameters):
                responses.setdefault("400", _json(field_errors, "A parameter is wrong; the answer names it."))
            if "text/csv" in responses.get("200", {}).get("content", {}):
                # A caller asking for CSV gets its error as CSV too (one `error` column).
                for code, answer in responses.items():
                    if code >= "400":
                        answer.setdefault("content", {}).setdefault("text/csv", {"schema": {"type": "string"}})
    return result
