"""Harmont synced end to end: simulator over loopback -> adapter -> sync engine -> database
(docs/providers/harmont.md, "Sync", "States" and "Mapping")."""

from __future__ import annotations

import pytest

from dashboard.models import Build, Connection, Health, Job, Pipeline, Project, SyncRun
from dashboard.states import State
from dashboard.sync import apply_batch, sync_connection
from providers.base.records import SyncContext
from providers.base.sim import Scale
from providers.harmont.adapter import HarmontAdapter
from providers.harmont.sim import HarmontSimulator
from tests.conftest import TOKEN, make_connection


@pytest.fixture
def sim(clock):
    sim = HarmontSimulator(TOKEN, seed=9, scale=Scale(projects=2, builds=4, jobs=5, arrival_every=30), clock=clock)
    sim.serve()
    yield sim
    sim.stop()


@pytest.fixture
def harmont(db, sim):
    return make_connection(sim, "hm")


def sim_builds(sim) -> dict[str, object]:
    return {
        f"{org.slug}:{p.slug}:{n}": b
        for org in sim.orgs.values()
        for p in org.pipelines.values()
        for n, b in p.builds.items()
    }


def scripted(sim, clock, outcomes: dict[str, str], durations: dict[str, float]):
    """A new acme/ci build whose jobs end as told (the others pass) and take as long as told."""
    outcomes = {key: "passed" for key in ("setup", "lint", "unit", "integration", "package")} | outcomes
    build = sim.create_build(
        sim.orgs["acme"].pipelines["ci"],
        branch="main",
        commit="c" * 40,
        message="Scripted",
        source="api",
        created=clock.now(),
        outcomes=outcomes,
        jobs=5,
    )
    for job in build.jobs:
        job.duration = durations.get(job.step_key, 5.0)
    build.plan()
    return build, {job.step_key: job for job in build.jobs}


def test_first_sync_stores_orgs_pipelines_builds_and_their_job_dags(harmont, sim):
    run = sync_connection(harmont.pk)

    assert run.status == SyncRun.Status.OK, run.error
    assert set(Project.objects.values_list("external_id", "name")) == {("acme", "Acme"), ("globex", "Globex")}
    assert set(Pipeline.objects.values_list("external_id", flat=True)) == {
        "acme:ci",
        "acme:release",
        "globex:ci",
        "globex:release",
    }
    assert set(Build.objects.values_list("external_id", flat=True)) == set(sim_builds(sim))
    build = Build.objects.get(external_id="acme:ci:4")
    assert (build.number, build.project.external_id, build.pipeline.external_id) == ("#4", "acme", "acme:ci")
    assert build.triggered_by == "webhook" and build.branch and len(build.commit_sha) == 40
    planned = sim.orgs["acme"].pipelines["ci"].builds[4]
    jobs = {j.external_id: j for j in build.jobs.all()}
    assert set(jobs) == {j.id for j in planned.jobs}
    for job in planned.jobs:
        assert jobs[job.id].depends_on == job.deps
        assert jobs[job.id].raw["step_key"] == job.step_key
    assert [j.raw["step_key"] for j in build.jobs.order_by("position")] == [j.step_key for j in planned.jobs]
    assert run.requests == sim.count("")  # API calls, and the logs of jobs that just finished
    harmont.refresh_from_db()
    assert harmont.health == Health.OK


def test_a_quiet_second_sync_fetches_no_finished_build_and_writes_nothing(harmont, sim):
    sync_connection(harmont.pk)
    sim.requests.clear()

    run = sync_connection(harmont.pk)

    assert (run.created, run.updated, run.status) == (0, 0, SyncRun.Status.OK)
    paths = [r.path for r in sim.requests]
    assert not [p for p in paths if "/builds/" in p], "finished builds must never be fetched again"
    assert len([p for p in paths if p.endswith("/builds")]) == 4  # one first page per pipeline


def test_new_builds_are_found_and_followed_until_they_finish(harmont, sim, clock):
    sync_connection(harmont.pk)
    clock.advance(55)  # one new build per pipeline, staggered over 30 s
    sync_connection(harmont.pk)
    fresh_ids = set(Build.objects.filter(number="#5").values_list("external_id", flat=True))
    assert len(fresh_ids) == 4
    assert Build.objects.filter(external_id__in=fresh_ids, state__in=[State.QUEUED, State.RUNNING]).exists()

    clock.advance(200)
    sim.scale.arrival_every = 0  # nothing newer arrives
    run = sync_connection(harmont.pk)

    assert run.status == SyncRun.Status.OK
    assert set(Build.objects.filter(external_id__in=fresh_ids).values_list("state", flat=True)) <= {
        State.PASSED,
        State.FAILED,
    }
    assert not Job.objects.filter(build__external_id__in=fresh_ids, state__in=[State.QUEUED, State.RUNNING]).exists()


def test_a_build_is_failing_while_a_failed_jobs_siblings_still_run(harmont, sim, clock):
    sim.scale.arrival_every = 0
    build, jobs = scripted(sim, clock, {"unit": "failed"}, {"setup": 2, "unit": 4, "lint": 30, "integration": 30})
    clock.advance(jobs["unit"].end - clock.now() + 0.5)

    sync_connection(harmont.pk)

    stored = Build.objects.get(external_id=f"acme:ci:{build.number}")
    assert (stored.state, stored.raw_state) == (State.RUNNING, "failing")
    by_key = {j.raw["step_key"]: j for j in stored.jobs.all()}
    assert (by_key["unit"].state, by_key["unit"].exit_code) == (State.FAILED, jobs["unit"].exit_code)
    assert by_key["unit"].raw["error_code"] == "job_failed"
    assert by_key["lint"].state == State.RUNNING
    assert by_key["package"].state == State.SKIPPED  # its prerequisite failed

    clock.advance(40)
    sync_connection(harmont.pk)
    stored.refresh_from_db()
    assert (stored.state, stored.raw_state) == (State.FAILED, "failed")
    assert stored.finished_at is not None


def test_a_soft_failed_job_stays_failed_while_its_build_passes(harmont, sim, clock):
    sim.scale.arrival_every = 0
    build, jobs = scripted(sim, clock, {"lint": "failed"}, {})
    clock.advance(60)

    sync_connection(harmont.pk)

    stored = Build.objects.get(external_id=f"acme:ci:{build.number}")
    assert stored.state == State.PASSED
    lint = stored.jobs.get(external_id=jobs["lint"].id)
    assert (lint.state, lint.raw_state, lint.exit_code) == (State.FAILED, "failed", 1)
    assert lint.raw["soft_failed"] is True and lint.raw["soft_fail_policy"] == {"exit_codes": [1]}
    assert lint.allowed_failure and not stored.jobs.exclude(pk=lint.pk).filter(allowed_failure=True).exists()


def test_the_build_page_shows_an_allowed_failure_apart_from_a_real_one(harmont, sim, clock, viewer_client):
    sim.scale.arrival_every = 0
    build, _jobs = scripted(sim, clock, {"lint": "failed"}, {})
    clock.advance(60)
    sync_connection(harmont.pk)
    page = viewer_client.get(f"/harmont/{harmont.slug}/build/acme:ci:{build.number}").content.decode()
    assert "failed (allowed)" in page and 'class="node state-failed soft-failed"' in page


def test_timing_out_is_running_and_timed_out_is_failed(harmont, sim, clock):
    sim.scale.arrival_every = 0
    _build, jobs = scripted(sim, clock, {"integration": "timed_out"}, {"integration": 10})
    clock.advance(jobs["integration"].end - clock.now() - 0.5)
    sync_connection(harmont.pk)
    job = Job.objects.get(external_id=jobs["integration"].id)
    assert (job.state, job.raw_state) == (State.RUNNING, "timing_out")

    clock.advance(30)
    sync_connection(harmont.pk)
    job.refresh_from_db()
    assert (job.state, job.raw_state, job.exit_code) == (State.FAILED, "timed_out", None)
    assert job.raw["error_code"] == "job_timed_out" and job.raw["retry_policy"] is None


def test_cursor_paging_walks_several_pages_per_pipeline(db, sim):
    sim.scale.arrival_every = 0
    connection = make_connection(sim, "hm", options={"page_size": 2, "backfill_pages": 10})

    run = sync_connection(connection.pk)

    assert run.status == SyncRun.Status.OK
    assert Build.objects.count() == 16
    pages = [r for r in sim.requests if r.path == "/api/v0/organizations/acme/pipelines/ci/builds"]
    assert len(pages) == 2 and "cursor=" not in pages[0].query and "cursor=" in pages[1].query


def test_a_first_sync_backfills_only_so_many_pages(db, sim):
    connection = make_connection(sim, "hm", options={"page_size": 1, "backfill_pages": 2})
    sync_connection(connection.pk)
    assert set(Build.objects.filter(pipeline__external_id="acme:ci").values_list("number", flat=True)) == {"#4", "#3"}


def test_a_sync_killed_mid_scan_resumes_from_its_page(db, sim, clock):
    sim.scale.arrival_every = 0
    connection = make_connection(sim, "hm", options={"page_size": 1, "backfill_pages": 10})
    adapter = HarmontAdapter(connection)
    batches = adapter.sync(SyncContext({}, [], lambda ids: set()))
    for _ in range(3):  # orgs and pipelines, then two pages of acme/ci: then the worker dies
        apply_batch(connection, next(batches))
    adapter.close()
    connection.refresh_from_db()
    assert connection.sync_cursor["pipelines"]["acme:ci"]["scan"]["next"]
    sim.requests.clear()

    run = sync_connection(connection.pk)

    assert run.status == SyncRun.Status.OK
    assert Build.objects.count() == 16
    acme_pages = [r for r in sim.requests if r.path.endswith("/acme/pipelines/ci/builds")]
    assert len(acme_pages) == 2 and all("cursor=" in r.query for r in acme_pages)  # the pages of #2 and #1
    assert "scan" not in Connection.objects.get(pk=connection.pk).sync_cursor["pipelines"]["acme:ci"]


def test_builds_we_started_do_not_hide_builds_others_started_meanwhile(harmont, sim, clock):
    sim.scale.arrival_every = 0
    sync_connection(harmont.pk)
    pipeline = sim.orgs["acme"].pipelines["ci"]
    others = sim.create_build(
        pipeline, branch="main", commit="d" * 40, message="", source="webhook", created=clock.now()
    )
    adapter = HarmontAdapter(harmont)
    params = {"branch": "main", "commit": "e" * 40, "message": "", "env": {}}
    started = adapter.perform(adapter.action("trigger"), Pipeline.objects.get(external_id="acme:ci"), params, None)
    apply_batch(harmont, started.refresh)
    ours = Build.objects.get(external_id=f"acme:ci:{others.number + 1}")
    canceled = adapter.perform(adapter.action("cancel"), ours, {}, None)  # nothing ran yet: canceled at once
    apply_batch(harmont, canceled.refresh)
    adapter.close()
    ours.refresh_from_db()
    assert ours.state == State.CANCELED  # held as finished, above a build we have never seen

    sync_connection(harmont.pk)

    assert Build.objects.filter(external_id=f"acme:ci:{others.number}").exists()


def test_only_the_configured_organizations_are_synced(db, sim):
    connection = make_connection(sim, "hm", options={"orgs": ["globex"]})
    run = sync_connection(connection.pk)
    assert run.status == SyncRun.Status.OK
    assert list(Project.objects.values_list("external_id", flat=True)) == ["globex"]
    assert sim.count("/api/v0/organizations", method="GET") == sim.count("/api/v0/organizations/globex")


def test_a_build_whose_jobs_cannot_be_read_is_read_again_at_the_next_sync(harmont, sim):
    original = sim.list_jobs

    def garbled(request, org, pipeline, number):
        if (org, pipeline, number) == ("globex", "ci", "2"):
            return sim.json({"data": "not a list"})
        return original(request, org, pipeline, number)

    sim.list_jobs = garbled
    run = sync_connection(harmont.pk)
    assert run.status == SyncRun.Status.PARTIAL
    assert "globex:ci:2" in run.error and "jobs list" in run.error
    assert not Build.objects.filter(external_id="globex:ci:2").exists()

    sim.list_jobs = original
    run = sync_connection(harmont.pk)
    assert run.status == SyncRun.Status.OK
    assert Build.objects.get(external_id="globex:ci:2").jobs.count() == len(
        sim.orgs["globex"].pipelines["ci"].builds[2].jobs
    )
    assert Connection.objects.get(pk=harmont.pk).sync_cursor["pipelines"]["globex:ci"]["retry"] == []


def test_a_build_gone_at_harmont_is_kept_and_marked_gone(harmont, sim, clock, believe_deletions_at_once):
    clock.advance(31)
    sync_connection(harmont.pk)
    running = Build.objects.filter(state__in=[State.QUEUED, State.RUNNING]).first()
    org, pipeline, number = running.external_id.split(":")
    del sim.orgs[org].pipelines[pipeline].builds[int(number)]

    sync_connection(harmont.pk)
    running.refresh_from_db()
    assert not running.gone, "one 404 is not enough"
    sync_connection(harmont.pk)

    running.refresh_from_db()
    assert running.gone
    assert running.state == State.UNKNOWN, "a gone build will never finish: it is not shown as running"


def test_the_connection_check_names_the_user_and_the_organizations(harmont):
    adapter = HarmontAdapter(harmont)
    try:
        assert adapter.check() == "ok: signed in as dev@example.com; 2 organization(s)"
    finally:
        adapter.close()


def test_builds_link_to_harmont_only_when_a_web_url_template_is_configured(db, sim):
    connection = make_connection(
        sim, "hm", options={"web_url": "https://app.harmont.example/{org}/{pipeline}/{number}"}
    )
    sync_connection(connection.pk)
    assert Build.objects.get(external_id="acme:ci:2").web_url == "https://app.harmont.example/acme/ci/2"
    broken = make_connection(sim, "hm2", options={"web_url": "https://x/{build_id}"})
    assert sync_connection(broken.pk).status == SyncRun.Status.OK
    assert not Build.objects.filter(connection=broken).exclude(web_url="").exists()
