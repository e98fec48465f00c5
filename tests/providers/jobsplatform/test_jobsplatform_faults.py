"""The jobs platform client against a simulator that misbehaves on purpose."""

import pytest
from werkzeug.wrappers import Response

from dashboard.models import Build, Connection, Health, SyncRun
from dashboard.sync import sync_connection
from providers.base.errors import AuthError, BadResponse, NotFound, RateLimited, Rejected, Unavailable
from providers.base.sim import Faults
from providers.jobsplatform import contract as c
from providers.jobsplatform.client import JobsPlatformClient

from . import support


def test_it_sends_the_bearer_token(api, jp_sim):
    seen = {}
    original = jp_sim.list_jobs

    def capture(request, **kw):
        seen.update(request.headers)
        return original(request, **kw)

    jp_sim.list_jobs = capture
    api.jobs(support.first_project(jp_sim))
    assert seen["Authorization"] == f"Bearer {jp_sim.token}"


def test_a_bad_token_is_an_auth_error_in_the_platforms_words(jp_sim):
    with (
        JobsPlatformClient(jp_sim.url, "wrong", workspace_id=jp_sim.workspace_id) as client,
        pytest.raises(AuthError, match="refused the API token: Invalid API token"),
    ):
        client.jobs(support.first_project(jp_sim))


def test_a_bad_token_marks_the_connection_auth_failed(db, jp_sim):
    connection = Connection.objects.create(
        kind="jobsplatform",
        name="x",
        slug="x",
        base_url=jp_sim.url,
        token="wrong",
        options=jp_sim.connection_options(),
    )
    run = sync_connection(connection.pk)

    connection.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert connection.health == Health.AUTH_FAILED
    assert "Invalid API token" in connection.last_error


def test_an_unknown_job_is_not_found_with_the_platforms_message(api, jp_sim):
    project = support.first_project(jp_sim)
    with pytest.raises(NotFound, match="Job job_000000000000 not found"):
        api.job_status(project, "job_000000000000")
    with pytest.raises(NotFound, match="Workspace"):
        JobsPlatformClient(jp_sim.url, jp_sim.token, workspace_id="ws_nope").jobs(project)


def test_server_errors_are_retried_until_they_pass(api, jp_sim):
    jp_sim.faults = Faults(error_rate=0.5)
    jp_sim._fault_rng.seed(1)
    project = support.first_project(jp_sim)
    answers = [api.jobs(project) for _ in range(5)]
    assert all(len(a) == 4 for a in answers)
    assert api.requests > 5


def test_a_trigger_is_not_sent_twice_when_the_platform_fails(api, jp_sim):
    jp_sim.faults = Faults(error_rate=1.0)
    job = support.job_named(jp_sim, "db-migrate")
    with pytest.raises(Unavailable, match=r"failed \(50\d\): Internal error, please retry"):
        api.trigger_run(job.project_id, job.id)
    assert api.requests == 1, "a POST that reached the platform is not repeated"


def test_a_429_waits_for_retry_after_then_succeeds(api, jp_sim):
    project = support.first_project(jp_sim)
    jp_sim.faults = Faults(rate_limit_rate=1.0, retry_after=0.05)
    with pytest.raises(RateLimited, match="Too many requests"):
        api.jobs(project)
    assert api.requests == api.max_attempts
    jp_sim.faults = Faults(rate_limit_rate=0.5, retry_after=0.01)
    jp_sim._fault_rng.seed(3)
    assert len(api.jobs(project)) == 4


def test_timeouts_become_unavailable_after_the_retries(jp_sim):
    jp_sim.faults = Faults(timeout_rate=1.0, timeout_seconds=1.0)
    with (
        JobsPlatformClient(
            jp_sim.url, jp_sim.token, workspace_id=jp_sim.workspace_id, timeout=0.3, backoff=0.001
        ) as api,
        pytest.raises(Unavailable, match="did not answer in time"),
    ):
        api.jobs(support.first_project(jp_sim))
    assert api.requests == api.max_attempts


def test_a_body_that_is_not_json_is_a_bad_response(api, jp_sim):
    jp_sim.faults = Faults(malformed_rate=1.0)
    with pytest.raises(BadResponse, match="not JSON"):
        api.jobs(support.first_project(jp_sim))


def test_an_answer_without_the_envelope_is_a_bad_response_and_an_error_envelope_a_refusal(api, jp_sim):
    project = support.first_project(jp_sim)
    jp_sim.list_jobs = lambda request, **kw: jp_sim.json([{"job_id": "bare list"}])
    with pytest.raises(BadResponse, match="envelope"):
        api.jobs(project)
    jp_sim.list_jobs = lambda request, **kw: jp_sim.json({c.STATUS: "weird", c.DATA: []})
    with pytest.raises(BadResponse, match="'weird'"):
        api.jobs(project)
    jp_sim.list_jobs = lambda request, **kw: jp_sim.envelope(c.ERROR, "quota exceeded", None, 200)
    with pytest.raises(Rejected, match="quota exceeded"):
        api.jobs(project)


def test_garbage_for_one_job_spoils_that_job_not_the_sync(jp, jp_sim):
    victim = support.job_named(jp_sim, "db-migrate")
    original = jp_sim.job_status

    def status(request, workspace_id, project_id, job_id):
        if job_id == victim.id:
            return Response("<html>oops</html>", mimetype="application/json")
        return original(request, workspace_id, project_id, job_id)

    jp_sim.job_status = status
    run = sync_connection(jp.pk)

    jp.refresh_from_db()
    assert run.status == SyncRun.Status.PARTIAL
    assert jp.health == Health.DEGRADED
    assert "job db-migrate" in jp.last_error and "not JSON" in jp.last_error
    others = Build.objects.exclude(pipeline__external_id=f"{victim.project_id}:{victim.id}")
    assert others.count() == len(jp_sim.runs) - len(victim.runs)


def test_a_sync_through_flaky_answers_still_gets_everything(jp, jp_sim):
    jp_sim.faults = Faults(error_rate=0.2, rate_limit_rate=0.1, retry_after=0.01)
    run = sync_connection(jp.pk)
    assert run.status in (SyncRun.Status.OK, SyncRun.Status.PARTIAL), run.error
    jp_sim.faults = Faults()
    sync_connection(jp.pk)
    assert Build.objects.count() == len(jp_sim.runs)


def test_an_unknown_run_state_is_kept_as_unknown_and_polled_again(jp, jp_sim):
    jp_sim.faults = Faults(unknown_enum_rate=1.0)
    run = sync_connection(jp.pk)

    assert run.status == SyncRun.Status.OK, run.error
    build = Build.objects.first()
    assert (build.state, build.raw_state) == ("unknown", "preempted")
    assert build.jobs.get().raw_state == "preempted"
    assert build.raw["run"][c.RUN_STATUS] == "preempted"

    jp_sim.faults = Faults()
    sync_connection(jp.pk)
    build.refresh_from_db()
    assert build.state in ("passed", "failed"), "an unknown state is not finished: it is polled again"
