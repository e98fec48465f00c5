"""The Harmont client against a simulator that pages and refuses in Harmont's words
(docs/providers/harmont.md, "Paging" and "Errors"); the faults every provider shares are
in tests/providers/test_contract.py."""

from __future__ import annotations

import pytest

from providers.base.errors import AuthError, BadResponse, NotFound, Rejected, Unavailable
from providers.base.sim import Faults, Scale
from providers.harmont.client import HarmontClient
from providers.harmont.sim import HarmontSimulator
from tests.conftest import TOKEN


@pytest.fixture
def sim(clock):
    sim = HarmontSimulator(TOKEN, seed=5, scale=Scale(projects=3, builds=7, jobs=3, arrival_every=0), clock=clock)
    sim.serve()
    yield sim
    sim.stop()


@pytest.fixture
def api(sim):
    with HarmontClient(sim.url, TOKEN, backoff=0.001, timeout=2) as client:
        yield client


def test_builds_are_paged_newest_first_across_several_pages(api, sim):
    numbers, cursor, pages = [], None, 0
    while True:
        page, cursor = api.builds_page("acme", "ci", cursor=cursor, limit=3)
        numbers += [b["number"] for b in page]
        pages += 1
        if not cursor:
            break
    assert numbers == [7, 6, 5, 4, 3, 2, 1]
    assert pages == 3
    assert sim.count("/api/v0/organizations/acme/pipelines/ci/builds") == 3


def test_organizations_and_pipelines_are_read_to_the_last_page(api, sim):
    assert [o["slug"] for o in api.organizations()] == ["acme", "globex", "initech"]
    assert [p["slug"] for p in api.pipelines("globex")] == ["ci", "release"]


def test_it_sends_the_bearer_token(api, sim):
    seen = {}
    original = sim.get_user

    def capture(request):
        seen.update(request.headers)
        return original(request)

    sim.get_user = capture
    api.user()
    assert seen["Authorization"] == f"Bearer {TOKEN}"


def test_a_refused_token_is_an_auth_failure_in_words(sim):
    with HarmontClient(sim.url, "wrong", backoff=0.001) as client, pytest.raises(AuthError) as refused:
        client.user()
    assert "auth failed" in str(refused.value)
    assert "This endpoint requires a valid bearer token." in str(refused.value)
    assert refused.value.details["code"] == "unauthorized"


def test_the_error_envelope_becomes_a_typed_error_with_code_and_request_id(api, sim):
    with pytest.raises(NotFound) as missing:
        api.build("acme", "ci", 404)
    rid = missing.value.details["request_id"]
    assert len(rid) == 20
    assert str(missing.value) == (
        f"Not found: No build with that number exists in this pipeline. (build_not_found, request id {rid})"
    )


def test_a_server_that_keeps_failing_is_unavailable_in_phoenixs_words(api, sim):
    sim.faults = Faults(error_rate=1.0)
    with pytest.raises(Unavailable, match="Internal Server Error"):
        api.user()
    assert api.requests == api.max_attempts


def test_a_create_is_never_sent_twice_after_a_server_error(api, sim):
    sim.faults = Faults(error_rate=1.0)
    with pytest.raises(Unavailable):
        api.create_build("acme", "ci", {"branch": "main", "commit": "abc"})
    assert sim.count("/api/v0/organizations/acme/pipelines/ci/builds", method="POST") == 1


def test_a_body_of_the_wrong_shape_is_named(api, sim):
    sim.list_jobs = lambda request, org, pipeline, number: sim.json({"data": {"oops": 1}})
    with pytest.raises(BadResponse, match="jobs list's data is dict"):
        api.jobs("acme", "ci", 1)


def test_invalid_build_attributes_are_rejected_with_harmonts_message(api):
    with pytest.raises(Rejected) as rejected:
        api.create_build("acme", "ci", {"branch": "main", "commit": "abc", "env": {"N": 1}})
    assert "Invalid build: env must map names to string values." in str(rejected.value)
    assert rejected.value.details["type"] == "validation_failed"
