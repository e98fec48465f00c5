"""prunner's own ways of going wrong (docs/providers/prunner.md, "Faults"); the faults
every provider shares (5xx, 429, timeouts, bodies that are not JSON, unknown states) are
in tests/providers/test_contract.py and test_fault_matrix.py."""

from __future__ import annotations

import pytest
from werkzeug.wrappers import Response

from dashboard import logstore
from dashboard.models import Build, Health, Job, Pipeline, SyncRun
from dashboard.sync import sync_connection
from providers.base.errors import BadResponse, NotFound, Unavailable
from providers.base.sim import Faults
from providers.prunner.adapter import NO_JOBS, PrunnerAdapter

from .support import call


def listed(sim) -> set[str]:
    return {j["id"] for j in call(sim, "GET", "/pipelines/jobs").json()["jobs"]}


def health(connection) -> tuple[str, str]:
    connection.refresh_from_db()
    return connection.health, connection.last_error


def test_an_answer_of_the_wrong_shape_is_a_bad_response(api, prunner_sim):
    prunner_sim.pipelines_jobs = lambda request: Response('{"pipelines": [], "jobs": {"a": 1}}')
    with pytest.raises(BadResponse, match="jobs list"):
        api.pipelines_jobs()
    prunner_sim.job_logs = lambda request: Response('{"stdout": 5, "stderr": ""}')
    with pytest.raises(BadResponse, match="stdout/stderr"):
        api.logs("52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8", "t")


def test_a_listing_without_a_key_says_so_instead_of_saying_none(api, prunner_sim):
    prunner_sim.faults = Faults(missing_key_rate=1.0)
    answer = api.pipelines_jobs()
    assert (answer.pipelines, answer.jobs) == (None, None)


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


def test_a_listing_without_its_jobs_marks_nothing_gone_and_still_stores_the_pipelines(
    prunner, prunner_sim, clock, believe_deletions_at_once
):
    call(prunner_sim, "POST", "/pipelines/schedule", json={"pipeline": "nightly_cleanup"})
    sync_connection(prunner.pk)
    held = set(Build.objects.values_list("external_id", flat=True))
    unfinished = set(
        Build.objects.exclude(state__in=["passed", "failed", "canceled"]).values_list("external_id", flat=True)
    )
    assert unfinished
    original = prunner_sim.pipelines_jobs

    def without_jobs(request):
        body = original(request).get_json()
        body["pipelines"][0]["running"] = "changed"
        return prunner_sim.answer({"pipelines": body["pipelines"]})

    prunner_sim.pipelines_jobs = without_jobs
    prunner_sim.requests.clear()
    runs = [sync_connection(prunner.pk) for _ in range(3)]

    assert all(run.status == SyncRun.Status.PARTIAL for run in runs)
    state, words = health(prunner)
    assert state == Health.DEGRADED and NO_JOBS in words
    assert not Build.objects.filter(gone=True).exists()
    assert set(Build.objects.values_list("external_id", flat=True)) == held
    assert Pipeline.objects.filter(raw__running="changed").exists()  # the pipelines were stored
    # The unfinished jobs we hold were read one by one instead.
    assert prunner_sim.count("/job/detail") >= len(unfinished)

    prunner_sim.pipelines_jobs = original
    sync_connection(prunner.pk)
    assert health(prunner)[0] == Health.OK


def test_a_listing_without_its_pipelines_leaves_them_as_they_were(prunner, prunner_sim, believe_deletions_at_once):
    sync_connection(prunner.pk)
    pipelines = dict(Pipeline.objects.values_list("name", "raw"))
    original = prunner_sim.pipelines_jobs
    prunner_sim.pipelines_jobs = lambda request: prunner_sim.answer({"jobs": original(request).get_json()["jobs"]})

    sync_connection(prunner.pk)
    sync_connection(prunner.pk)

    assert dict(Pipeline.objects.values_list("name", "raw")) == pipelines
    assert not Pipeline.objects.filter(gone=True).exists()
    assert "lacked its pipelines list" in health(prunner)[1]


def test_an_empty_listing_where_we_held_jobs_is_said_and_believed_only_when_it_lasts(prunner, prunner_sim, settings):
    settings.GONE_CONFIRM_SECONDS = 0
    sync_connection(prunner.pk)
    prunner_sim.faults = Faults(empty_list_rate=1.0)

    sync_connection(prunner.pk)
    sync_connection(prunner.pk)

    assert not Build.objects.filter(gone=True).exists()
    state, words = health(prunner)
    assert state == Health.DEGRADED and "left out" in words


def test_a_job_answered_without_its_tasks_is_read_again_until_they_come(prunner, prunner_sim):
    sync_connection(prunner.pk)
    job_id = call(prunner_sim, "POST", "/pipelines/schedule", json={"pipeline": "nightly_cleanup"}).json()["jobId"]
    original_listing, original_detail = prunner_sim.pipelines_jobs, prunner_sim.job_detail

    def listing_without_tasks(request):
        body = original_listing(request).get_json()
        for job in body["jobs"]:
            if job["id"] == job_id:
                del job["tasks"]
        return prunner_sim.answer(body)

    prunner_sim.pipelines_jobs = listing_without_tasks
    sync_connection(prunner.pk)
    build = Build.objects.get(external_id=job_id)
    assert build.jobs.count() == 0 and build.recheck_at is not None  # to be read again, not "no tasks"

    prunner_sim.pipelines_jobs = original_listing
    prunner_sim.job_detail = original_detail
    sync_connection(prunner.pk)
    assert Job.objects.filter(build=build).count() == 2


def test_a_burst_of_not_found_on_logs_leaves_the_log_open(prunner, prunner_sim):
    sync_connection(prunner.pk)
    task = Job.objects.filter(build__state="passed").first()
    logstore.log_for(task).delete()
    prunner_sim.faults = Faults(not_found_rate=1.0)

    with pytest.raises(NotFound):
        logstore.refresh_log(Job.objects.get(pk=task.pk))

    prunner_sim.faults = Faults()
    log = logstore.refresh_log(Job.objects.get(pk=task.pk))
    assert log.complete and "no longer has" not in "".join(logstore.read(log))


def test_a_burst_of_not_found_on_job_detail_marks_nothing_gone(prunner, prunner_sim, believe_deletions_at_once):
    call(prunner_sim, "POST", "/pipelines/schedule", json={"pipeline": "nightly_cleanup"})
    sync_connection(prunner.pk)
    held = Build.objects.exclude(state__in=["passed", "failed", "canceled"]).first()
    adapter = PrunnerAdapter(prunner)
    prunner_sim.faults = Faults(not_found_rate=1.0)
    try:
        with pytest.raises(NotFound, match="Job not found"):
            adapter.client.job(held.external_id)
    finally:
        adapter.close()
    prunner_sim.faults = Faults(not_found_rate=1.0, missing_key_rate=1.0)  # the listing says nothing either
    sync_connection(prunner.pk)
    sync_connection(prunner.pk)
    assert not Build.objects.filter(gone=True).exists()
    assert "could not show anything else" in health(prunner)[1]


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
