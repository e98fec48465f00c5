"""The Semaphore client against a simulator that misbehaves on purpose."""

import pytest

from dashboard.models import Build, Health, SyncRun
from dashboard.sync import sync_connection
from providers.base.errors import AuthError, BadResponse, PermissionDenied, RateLimited, Unavailable
from providers.base.sim import Faults
from providers.semaphore.client import SemaphoreClient


@pytest.fixture
def api(semaphore_sim):
    with SemaphoreClient(semaphore_sim.url, semaphore_sim.token, backoff=0.001, timeout=0.5) as c:
        yield c


def test_it_sends_the_documented_headers(api, semaphore_sim):
    seen = {}

    def capture(request, *a, **kw):
        seen.update(request.headers)
        return original(request, *a, **kw)

    original = semaphore_sim.list_projects
    semaphore_sim.list_projects = capture
    list(api.projects())
    assert seen["Authorization"] == f"Token {semaphore_sim.token}"
    assert seen["User-Agent"] == "SemaphoreCI v2.0 Client"


def test_server_errors_are_retried_until_they_pass(api, semaphore_sim):
    semaphore_sim.faults = Faults(error_rate=0.5)
    semaphore_sim._fault_rng.seed(1)
    projects = [list(api.projects()) for _ in range(5)]
    assert all(len(p) == 2 for p in projects)
    assert api.requests > 5  # some answers were 5xx and were asked again


def test_a_429_waits_for_retry_after_then_succeeds(api, semaphore_sim):
    semaphore_sim.faults = Faults(rate_limit_rate=1.0, retry_after=0.05)
    with pytest.raises(RateLimited, match="Rate limited"):  # every answer is 429: it gives up in words
        list(api.projects())
    assert api.requests == api.max_attempts
    semaphore_sim.faults = Faults(rate_limit_rate=0.5, retry_after=0.01)
    semaphore_sim._fault_rng.seed(3)
    assert len(list(api.projects())) == 2


def test_a_long_retry_after_is_not_slept_through(api, semaphore_sim):
    semaphore_sim.faults = Faults(rate_limit_rate=1.0, retry_after=3600)
    with pytest.raises(RateLimited) as refused:
        list(api.projects())
    assert api.requests == 1
    assert refused.value.retry_after == 3600


def test_timeouts_become_unavailable_after_the_retries(api, semaphore_sim):
    semaphore_sim.faults = Faults(timeout_rate=1.0, timeout_seconds=1.0)
    with pytest.raises(Unavailable, match="did not answer in time"):
        list(api.projects())
    assert api.requests == api.max_attempts


def test_a_body_that_is_not_json_is_a_bad_response(api, semaphore_sim):
    semaphore_sim.faults = Faults(malformed_rate=1.0)
    with pytest.raises(BadResponse, match="not JSON"):
        list(api.projects())


def test_plain_text_permission_denied_is_not_a_bad_token(semaphore_sim):
    from werkzeug.wrappers import Response

    semaphore_sim.job_logs = lambda request, job_id: Response("Permission denied", status=401)
    with SemaphoreClient(semaphore_sim.url, semaphore_sim.token) as c, pytest.raises(PermissionDenied):
        c.job_log("5a0c9e1e-6c4e-4d5f-9a83-2a2f3d1c7b11")
    with SemaphoreClient(semaphore_sim.url, "wrong") as c, pytest.raises(AuthError):
        c.job_log("5a0c9e1e-6c4e-4d5f-9a83-2a2f3d1c7b11")


def test_a_sync_through_flaky_answers_still_gets_everything(semaphore, semaphore_sim):
    semaphore_sim.faults = Faults(error_rate=0.2, rate_limit_rate=0.1, retry_after=0.01)
    run = sync_connection(semaphore.pk)
    assert run.status in (SyncRun.Status.OK, SyncRun.Status.PARTIAL), run.error
    semaphore_sim.faults = Faults()
    sync_connection(semaphore.pk)
    assert set(Build.objects.values_list("external_id", flat=True)) == set(semaphore_sim.pipelines)


def test_garbage_for_one_pipeline_spoils_that_pipeline_not_the_sync(semaphore, semaphore_sim):
    from werkzeug.wrappers import Response

    victim = sorted(semaphore_sim.pipelines)[0]
    original = semaphore_sim.describe_pipeline

    def describe(request, ppl_id):
        if ppl_id == victim:
            return Response("<html>oops</html>", mimetype="application/json")
        return original(request, ppl_id)

    semaphore_sim.describe_pipeline = describe
    run = sync_connection(semaphore.pk)

    semaphore.refresh_from_db()
    assert run.status == SyncRun.Status.PARTIAL
    assert semaphore.health == Health.DEGRADED
    assert victim in semaphore.last_error and "not JSON" in semaphore.last_error
    assert Build.objects.count() == len(semaphore_sim.pipelines) - 1


def test_unknown_states_are_kept_and_shown_as_unknown(semaphore, semaphore_sim, admin_client_):
    semaphore_sim.faults = Faults(unknown_enum_rate=1.0)
    run = sync_connection(semaphore.pk)
    assert run.status == SyncRun.Status.OK
    build = Build.objects.first()
    assert build.state == "unknown" and build.raw_state == "something_new"
    response = admin_client_.get("/")
    assert b"unknown (something_new)" in response.content
