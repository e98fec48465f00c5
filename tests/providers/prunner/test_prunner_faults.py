"""The prunner client and sync against a simulator that misbehaves on purpose."""

from __future__ import annotations

import pytest
from werkzeug.wrappers import Response

from dashboard.models import Build, Health, SyncRun
from dashboard.sync import sync_connection
from providers.base.errors import BadResponse, RateLimited, Unavailable
from providers.base.sim import Faults

from .support import call


def test_server_errors_are_retried_until_they_pass(api, prunner_sim):
    prunner_sim.faults = Faults(error_rate=0.5)
    prunner_sim._fault_rng.seed(1)
    answers = [api.pipelines_jobs() for _ in range(5)]
    assert all(len(pipelines) == 5 for pipelines, _ in answers)
    assert api.requests > 5


def test_a_429_waits_for_retry_after_then_succeeds(api, prunner_sim):
    prunner_sim.faults = Faults(rate_limit_rate=1.0, retry_after=0.05)
    with pytest.raises(RateLimited, match="Rate limited"):
        api.pipelines()
    assert api.requests == api.max_attempts
    prunner_sim.faults = Faults(rate_limit_rate=0.5, retry_after=0.01)
    prunner_sim._fault_rng.seed(3)
    assert len(api.pipelines()) == 5


def test_timeouts_become_unavailable_after_the_retries(api, prunner_sim):
    api.timeout = 0.2
    prunner_sim.faults = Faults(timeout_rate=1.0, timeout_seconds=0.5)
    with pytest.raises(Unavailable, match="did not answer in time"):
        api.pipelines()
    assert api.requests == api.max_attempts


def test_a_body_that_is_not_json_is_a_bad_response(api, prunner_sim):
    prunner_sim.faults = Faults(malformed_rate=1.0)
    with pytest.raises(BadResponse, match="not JSON"):
        api.pipelines_jobs()


def test_an_answer_of_the_wrong_shape_is_a_bad_response(api, prunner_sim):
    prunner_sim.pipelines_jobs = lambda request: Response('{"pipelines": [], "jobs": {"a": 1}}')
    with pytest.raises(BadResponse, match="jobs list"):
        api.pipelines_jobs()
    prunner_sim.job_logs = lambda request: Response('{"stdout": 5, "stderr": ""}')
    with pytest.raises(BadResponse, match="stdout/stderr"):
        api.logs("52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8", "t")


def test_scheduling_is_not_sent_twice_after_a_server_error(api, prunner_sim):
    prunner_sim.faults = Faults(error_rate=1.0)
    with pytest.raises(Unavailable):
        api.schedule("nightly_cleanup", {})
    assert api.requests == 1  # it may have started a job: never repeat it blindly


def test_cancelling_is_retried_because_it_is_safe_to_repeat(api, prunner_sim):
    job_id = api.schedule("nightly_cleanup", {})
    prunner_sim.faults = Faults(error_rate=0.6)
    prunner_sim._fault_rng.seed(2)
    api.cancel(job_id)
    prunner_sim.faults = Faults()
    assert api.job(job_id)["canceled"] is True


def test_a_sync_through_flaky_answers_still_gets_everything(prunner, prunner_sim):
    prunner_sim.faults = Faults(error_rate=0.3, rate_limit_rate=0.1, retry_after=0.01)
    run = sync_connection(prunner.pk)
    assert run.status in (SyncRun.Status.OK, SyncRun.Status.PARTIAL, SyncRun.Status.FAILED)
    prunner_sim.faults = Faults()
    sync_connection(prunner.pk)
    listed = {j["id"] for j in call(prunner_sim, "GET", "/pipelines/jobs").json()["jobs"]}
    assert set(Build.objects.values_list("external_id", flat=True)) == listed


def test_a_provider_that_keeps_failing_leaves_the_connection_unreachable_in_words(prunner, prunner_sim):
    prunner_sim.faults = Faults(error_rate=1.0)
    run = sync_connection(prunner.pk)

    prunner.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert prunner.health == Health.UNREACHABLE
    assert "The provider failed (5" in prunner.last_error


def test_garbage_instead_of_the_job_list_degrades_the_connection_and_keeps_what_we_had(prunner, prunner_sim):
    sync_connection(prunner.pk)
    held = Build.objects.count()
    prunner_sim.faults = Faults(malformed_rate=1.0)

    run = sync_connection(prunner.pk)

    prunner.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert prunner.health == Health.DEGRADED and "not JSON" in prunner.last_error
    assert Build.objects.count() == held and not Build.objects.filter(gone=True).exists()


def test_odd_jobs_in_the_list_are_skipped_not_fatal(prunner, prunner_sim):
    original = prunner_sim.pipelines_jobs

    def with_odd_ones(request):
        body = original(request).get_json()
        body["jobs"] += [{"pipeline": "x"}, "not a job", {"id": "odd", "tasks": "nope", "created": "yesterday"}]
        return prunner_sim.answer(body)

    prunner_sim.pipelines_jobs = with_odd_ones
    run = sync_connection(prunner.pk)

    assert run.status == SyncRun.Status.PARTIAL
    odd = Build.objects.get(external_id="odd")
    assert odd.state == "queued" and odd.jobs.count() == 0
