"""The Harmont simulator answers what Harmont's published OpenAPI file says: every
response our client reads is checked against docs/providers/harmont-openapi.public.json
(the file docs.harmont.dev serves; docs/providers/harmont.md, "Sources")."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import jsonschema
import pytest
from openapi_core import OpenAPI
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.testing import MockRequest, MockResponse

from dashboard.models import Connection
from providers.base.errors import ProviderError
from providers.base.records import SyncContext
from providers.base.sim import Scale
from providers.harmont.adapter import HarmontAdapter
from providers.harmont.client import HarmontClient
from providers.harmont.sim import HarmontSimulator
from tests.conftest import TOKEN

SPEC_FILE = Path(__file__).resolve().parents[3] / "docs" / "providers" / "harmont-openapi.public.json"
CATALOG_FILE = SPEC_FILE.with_name("harmont-error-catalog.json")
HOST = "https://api.harmont.dev"


@pytest.fixture(scope="module")
def spec():
    return OpenAPI.from_file_path(str(SPEC_FILE))


@pytest.fixture(scope="module")
def error_schema():
    return json.loads(SPEC_FILE.read_text())["components"]["schemas"]["Error"]


@pytest.fixture
def sim(clock):
    sim = HarmontSimulator(TOKEN, seed=11, scale=Scale(projects=2, builds=5, jobs=5, arrival_every=30), clock=clock)
    sim.serve()
    yield sim
    sim.stop()


@pytest.fixture
def recorded(sim):
    """A client whose every answer is kept for checking."""
    seen: list[httpx.Response] = []
    client = HarmontClient(sim.url, TOKEN, backoff=0.001)
    client.http.event_hooks["response"] = [seen.append]
    yield client, seen
    client.close()


def check(spec, error_schema, response: httpx.Response) -> None:
    """Validate one answer: against its operation when the spec documents that status,
    otherwise (401s, 402s the spec leaves out) against the Error envelope."""
    response.read()
    url = urlsplit(str(response.request.url))
    request = MockRequest(HOST, response.request.method, url.path, args=dict(parse_qsl(url.query)))
    answer = MockResponse(response.content, status_code=response.status_code, content_type="application/json")
    try:
        spec.validate_response(request, answer)
    except ResponseNotFound:
        assert response.status_code >= 400, f"{url.path}: {response.status_code} is not in the spec"
        jsonschema.validate(response.json(), error_schema)


def test_every_response_a_sync_reads_matches_harmonts_openapi_spec(sim, clock, recorded, spec, error_schema):
    client, seen = recorded
    connection = Connection(kind="harmont", slug="hm", base_url=sim.url, token=TOKEN, options={"page_size": 2})
    adapter = HarmontAdapter(connection, client=client)
    clock.advance(45)  # some builds are running now, with pending and assigned jobs
    batches = list(adapter.sync(SyncContext({}, [], lambda ids: set())))
    some_build = next(b for batch in batches for b in batch.builds)
    client.log_token("acme", "ci", some_build.external_id.rsplit(":", 1)[1])
    client.job("acme", "ci", 1, sim.orgs["acme"].pipelines["ci"].builds[1].jobs[0].id)
    client.user()

    checked = {r.request.url.path for r in seen}
    assert len(seen) > 20
    assert any(p.endswith("/jobs") for p in checked) and any(p.endswith("/builds") for p in checked)
    assert any(p.endswith("/log-token") for p in checked) and "/api/v0/user" in checked
    for response in seen:
        check(spec, error_schema, response)


def test_create_cancel_and_every_refusal_match_the_spec(sim, recorded, spec, error_schema):
    client, seen = recorded
    created = client.create_build("acme", "ci", {"branch": "main", "commit": "a" * 40, "env": {"A": "1"}})
    client.cancel_build("acme", "ci", created["number"])
    client.cancel_build("acme", "ci", created["number"])  # idempotent
    refusals = [
        lambda: client.create_build("acme", "release", {"branch": "main", "commit": "abc"}),  # 403
        lambda: client.create_build("acme", "ci", {"branch": "sim/no-balance", "commit": "abc"}),  # 402
        lambda: client.create_build("acme", "ci", {"branch": "main", "commit": " "}),  # 422 build_invalid
        lambda: client.create_build("acme", "ci", {"branch": "sim/plan-rejected", "commit": "abc"}),  # 422
        lambda: client.build("acme", "ci", 999),  # 404 build_not_found
        lambda: client.build("acme", "ci", "seven"),  # 404 too, not a 400
        lambda: client.jobs("acme", "nope", 1),  # 404 pipeline_not_found
        lambda: list(client.pipelines("nope")),  # 404 organization_not_found
        lambda: client.job("acme", "ci", 1, "not-a-job"),  # 404 job_not_found
    ]
    codes = []
    for refuse in refusals:
        with pytest.raises(ProviderError) as refused:
            refuse()
        codes.append(refused.value.details.get("code"))
    assert codes == [
        "pipeline_manual_disabled",
        "billing_insufficient_balance",
        "build_invalid",
        "build_plan_rejected",
        "build_not_found",
        "build_not_found",
        "pipeline_not_found",
        "organization_not_found",
        "job_not_found",
    ]
    assert [r.status_code for r in seen] == [201, 200, 200, 403, 402, 422, 422, 404, 404, 404, 404, 404]
    for response in seen:
        check(spec, error_schema, response)


def test_request_ids_and_doc_urls_follow_harmonts_conventions(sim):
    with httpx.Client(base_url=sim.url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        missing = http.get("/api/v0/organizations/acme/pipelines/ci/builds/999")
        manual = http.post("/api/v0/organizations/acme/pipelines/release/builds", json={"branch": "m", "commit": "c"})
        echoed = http.get("/api/v0/organizations/nope/pipelines", headers={"x-request-id": "client-chosen-id-12345"})
    error = missing.json()["error"]
    assert error["request_id"] == missing.headers["x-request-id"] and len(error["request_id"]) == 20
    assert error["doc_url"].endswith("/build-not-found")  # CI errors: hyphens
    assert manual.json()["error"]["doc_url"].endswith("/pipeline_manual_disabled")  # catalog errors: underscores
    assert echoed.json()["error"]["request_id"] == "client-chosen-id-12345"


def test_only_the_exact_bearer_prefix_is_accepted(sim, error_schema):
    for header in (f"bearer {TOKEN}", f"Token {TOKEN}", f"Bearer  {TOKEN}", "Bearer wrong", ""):
        answer = httpx.get(f"{sim.url}/api/v0/user", headers={"Authorization": header} if header else {})
        assert answer.status_code == 401, header
        jsonschema.validate(answer.json(), error_schema)
        assert answer.json()["error"]["code"] == "unauthorized"
    assert httpx.get(f"{sim.url}/api/v0/user", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_unrouted_paths_and_crashes_answer_phoenix_bodies_not_the_envelope(sim):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    typo = httpx.get(f"{sim.url}/api/v0/organisations", headers=headers)
    assert (typo.status_code, typo.json()) == (404, {"errors": {"detail": "Not Found"}})
    sim.faults.error_rate = 1.0
    crash = httpx.get(f"{sim.url}/api/v0/user", headers=headers)
    assert crash.status_code >= 500 and crash.json() == {"errors": {"detail": "Internal Server Error"}}


def test_pages_clamp_their_limit_and_ignore_a_cursor_they_cannot_read(sim):
    url = f"{sim.url}/api/v0/organizations/acme/pipelines/ci/builds"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for limit, size in (("0", 1), ("1000", 5), ("junk", 5), ("2", 2)):
        assert len(httpx.get(url, params={"limit": limit}, headers=headers).json()["data"]) == size, limit
    first = httpx.get(url, params={"limit": 2}, headers=headers).json()
    broken = httpx.get(url, params={"limit": 2, "cursor": "%%%not-base64"}, headers=headers).json()
    assert broken == first
    jobs = httpx.get(f"{url}/1/jobs", params={"limit": 1}, headers=headers).json()
    assert set(jobs) == {"data"} and len(jobs["data"]) > 1  # the jobs list is not paginated


def test_catalog_errors_are_answered_as_harmonts_error_catalog_says(sim):
    catalog = {entry["code"]: entry for entry in json.loads(CATALOG_FILE.read_text())}
    with httpx.Client(base_url=sim.url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        manual = http.post("/api/v0/organizations/acme/pipelines/release/builds", json={"branch": "m", "commit": "c"})
        billing = http.post(
            "/api/v0/organizations/acme/pipelines/ci/builds", json={"branch": "sim/no-balance", "commit": "c"}
        )
    for answer in (manual, billing):
        error = answer.json()["error"]
        entry = catalog[error["code"]]
        assert (answer.status_code, error["type"], error["message"], error["doc_url"]) == (
            entry["http_status"],
            entry["type"],
            entry["message"],
            entry["doc_url"],
        )
