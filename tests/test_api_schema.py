"""The OpenAPI schema: valid, and it names every action with its parameters."""

import pytest
from django import forms
from django.urls import reverse
from openapi_spec_validator import validate

from providers.registry import KINDS, adapter_class


@pytest.fixture
def schema(viewer_client):
    response = viewer_client.get(reverse("api-schema"), {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_valid_openapi(schema):
    validate(schema)


def test_every_action_of_every_provider_is_an_operation_with_its_form(schema):
    seen = 0
    for kind in KINDS:
        for action in adapter_class(kind).actions:
            path = f"/api/actions/{kind}/{{slug}}/{action.name}/{action.target}/{{external_id}}"
            operation = schema["paths"][path]["post"]
            ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            body = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
            fields = action.form.base_fields if action.form else {}
            assert set(fields) <= set(body["properties"]), (kind, action.name)
            required = {name for name, field in fields.items() if field.required}
            if action.destructive:
                required.add("confirm")
                assert body["properties"]["confirm"]["enum"] == [True]
            assert set(body.get("required", [])) == required, (kind, action.name)
            for name, field in fields.items():
                prop = body["properties"][name]
                if isinstance(field, forms.BooleanField):
                    assert prop["type"] == "boolean"
                elif isinstance(field, forms.IntegerField):
                    assert prop["type"] == "integer"
            assert {"200", "400", "401", "403", "404", "422"} <= set(operation["responses"])
            seen += 1
    assert seen > 20
    assert not any("{action_name}" in path for path in schema["paths"]), "the generic pattern is replaced"


def test_an_action_reads_like_its_button(schema):
    operation = schema["paths"]["/api/actions/semaphore/{slug}/promote/build/{external_id}"]["post"]
    assert operation["summary"] == "Promote (Semaphore)"
    body = schema["components"]["schemas"]["SemaphorePromoteActionRequest"]
    assert body["required"] == ["name"]
    assert body["properties"]["override"]["type"] == "boolean"
    assert body["properties"]["name"]["maxLength"] == 255


def test_filters_and_errors_are_documented(schema):
    jobs = schema["paths"]["/api/jobs/"]["get"]
    names = {p["name"] for p in jobs["parameters"]}
    assert {"provider", "connection", "build", "state", "started_after", "finished_before", "cursor"} <= names
    assert {"200", "400", "401", "403"} <= set(jobs["responses"])
    log = schema["paths"]["/api/logs/{kind}/{slug}/{external_id}"]["get"]
    assert {"offset", "limit"} <= {p["name"] for p in log["parameters"]}
    assert "text/plain" in log["responses"]["200"]["content"]
