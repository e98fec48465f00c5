"""Semaphore's HTTP conventions as the client meets them (docs/providers/semaphore.md,
"Auth and errors", "Paging", "Projects"): headers, the error bodies, an outdated ``sem``
refused, the projects list paged by 500, unexpected redirects. Retries, 429s, timeouts
and bodies that are not JSON are the contract suite's (tests/providers/test_contract.py)."""

import re

import httpx
import pytest
from werkzeug.wrappers import Response

from providers.base.errors import AuthError, BadResponse, NotFound, PermissionDenied, Rejected
from providers.semaphore.client import SemaphoreClient
from providers.semaphore.sim.server import OUTDATED

V1 = "/api/v1alpha"


def test_it_sends_the_documented_headers(api, semaphore_sim):
    seen = {}

    def capture(request, *a, **kw):
        seen.update(request.headers)
        return original(request, *a, **kw)

    original = semaphore_sim.list_projects
    semaphore_sim.list_projects = capture
    api.projects()
    assert seen["Authorization"] == f"Token {semaphore_sim.token}"
    assert seen["User-Agent"] == "SemaphoreCI v2.0 Client"


def test_plain_text_permission_denied_is_not_a_bad_token(semaphore_sim):
    semaphore_sim.job_logs = lambda request, job_id: Response("Permission denied", status=401)
    with SemaphoreClient(semaphore_sim.url, semaphore_sim.token) as c, pytest.raises(PermissionDenied):
        c.job_log("5a0c9e1e-6c4e-4d5f-9a83-2a2f3d1c7b11")
    with SemaphoreClient(semaphore_sim.url, "wrong") as c, pytest.raises(AuthError):
        c.job_log("5a0c9e1e-6c4e-4d5f-9a83-2a2f3d1c7b11")


def test_each_kind_of_error_body_is_read_in_semaphores_words(api, semaphore_sim):
    with pytest.raises(NotFound, match="Not Found"):  # the authorization layer: plain text
        api.pipeline("5a0c9e1e-6c4e-4d5f-9a83-2a2f3d1c7b11")
    with pytest.raises(Rejected) as plumber:  # a handler's JSON-encoded string
        api.request("PATCH", f"{V1}/pipelines/{next(iter(semaphore_sim.pipelines))}", json={})
    assert str(plumber.value) == "Value of 'terminate_request' field must be boolean value 'true'."
    with pytest.raises(Rejected, match="Job id nope is invalid"):  # grpc-gateway's {"code", "message"}
        api.job("nope")
    with pytest.raises(Rejected, match="Validation Failed: page_size must be between 1 and 100"):  # v2's 422
        api.get(f"{V1.replace('v1alpha', 'v2')}/jobs", params={"page_size": 500})


@pytest.mark.parametrize(
    "agent, refused",
    [
        ("SemaphoreCLI/v0.29.0 (v0.29.0; 3f1a; 2024-01-01; linux; amd64)", True),
        ("SemaphoreCLI/v0.30.0 (v0.30.0; 3f1a; 2024-01-01; linux; amd64)", False),
        ("SemaphoreCLI/dev (dev; none; unknown; linux; amd64)", False),
        ("SemaphoreCI v2.0 Client", False),
        ("curl/8.5.0", False),
    ],
)
def test_an_outdated_sem_is_refused_before_its_token_is_looked_at(semaphore_sim, agent, refused):
    answer = httpx.get(f"{semaphore_sim.url}{V1}/projects", headers={"User-Agent": agent})

    if refused:
        assert answer.status_code == 400 and answer.json() == {"message": OUTDATED}
    else:
        assert answer.status_code == 401 and answer.text == "Unauthorized"


def test_the_projects_list_pages_by_500_with_x_page(api, semaphore_sim):
    first = httpx.get(f"{semaphore_sim.url}{V1}/projects", headers={"Authorization": f"Token {semaphore_sim.token}"})
    assert (first.headers["x-page"], first.headers["x-has-more"]) == ("1", "false")
    assert {p["kind"] for p in first.json()} == {"Project"} and {p["apiVersion"] for p in first.json()} == {"v1alpha"}
    with pytest.raises(Rejected) as refused:
        api.projects_page(101)
    assert str(refused.value) == "page must be at most 100"

    semaphore_sim.projects_page_size = 1  # to see several pages of our two projects
    semaphore_sim.requests.clear()
    names = sorted(p["metadata"]["name"] for p in api.projects())

    assert names == sorted(p.name for p in semaphore_sim.projects.values())
    assert [r.query for r in semaphore_sim.requests] == ["page=1", "page=2"]


def test_a_redirect_where_none_is_expected_is_refused_in_words(api, semaphore_sim):
    semaphore_sim.list_projects = lambda request: Response("", status=302, headers={"Location": "http://10.0.0.1/x"})

    with pytest.raises(BadResponse, match=re.escape("redirected to 'http://10.0.0.1/x'; it was not followed")):
        api.projects()
    assert semaphore_sim.count(f"{V1}/projects") == 1


def test_testing_a_connection_with_configured_projects_asks_for_one_of_them(db, semaphore_sim):
    from providers.semaphore.adapter import SemaphoreAdapter
    from tests.conftest import make_connection

    project_id = next(iter(semaphore_sim.projects))
    good = make_connection(semaphore_sim, slug="configured", options={"project_ids": [project_id]})
    bad = make_connection(semaphore_sim, slug="bad", token="wrong", options={"project_ids": [project_id]})

    with SemaphoreClient(semaphore_sim.url, semaphore_sim.token) as client:
        assert SemaphoreAdapter(good, client).check().startswith("ok: 1 project(s) configured")
    assert semaphore_sim.count(f"{V1}/projects") == 0
    with SemaphoreClient(semaphore_sim.url, "wrong") as client, pytest.raises(AuthError):
        SemaphoreAdapter(bad, client).check()
