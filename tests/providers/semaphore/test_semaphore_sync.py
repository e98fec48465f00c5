"""The Semaphore sync under Semaphore's own misbehaviour (docs/providers/semaphore.md,
"Sync" and "Faults"): a pipeline that cannot be described is kept on the retry list
until it is read; repeated or endless pages stop a listing in words within a few
requests; projects that cannot be listed are synced from what we hold."""

import uuid

from werkzeug.wrappers import Response

from dashboard.models import Build, Health, Project, SyncRun
from dashboard.sync import sync_connection
from providers.base.sim import Clock, Faults, Scale
from providers.semaphore.sim import SemaphoreSimulator
from tests.conftest import TOKEN, make_connection

V1 = "/api/v1alpha"


def retry_ids(connection, project_id: str) -> set[str]:
    connection.refresh_from_db()
    return {entry["id"] for entry in connection.sync_cursor["projects"][project_id].get("retry", [])}


def test_a_pipeline_that_cannot_be_described_is_kept_on_the_retry_list_until_read(semaphore, semaphore_sim, clock):
    victim = max(semaphore_sim.pipelines.values(), key=lambda p: p.created)
    original = semaphore_sim.describe_pipeline
    broken = {"on": True}

    def describe(request, ppl_id):
        if ppl_id == victim.id and broken["on"]:
            return Response('{"pipeline": ', mimetype="application/json")  # cut short
        return original(request, ppl_id)

    semaphore_sim.describe_pipeline = describe
    run = sync_connection(semaphore.pk)

    semaphore.refresh_from_db()
    assert run.status == SyncRun.Status.PARTIAL and semaphore.health == Health.DEGRADED
    assert victim.id in semaphore.last_error and "not JSON" in semaphore.last_error
    assert not Build.objects.filter(external_id=victim.id).exists()
    assert retry_ids(semaphore, victim.project_id) == {victim.id}

    clock.advance(31)  # newer pipelines arrive; the mark moves past the victim, the retry list keeps it
    sync_connection(semaphore.pk)
    assert retry_ids(semaphore, victim.project_id) == {victim.id}
    broken["on"] = False
    run = sync_connection(semaphore.pk)

    assert run.status == SyncRun.Status.OK, run.error
    assert Build.objects.filter(external_id=victim.id).exists()
    assert retry_ids(semaphore, victim.project_id) == set()
    assert set(Build.objects.values_list("external_id", flat=True)) == set(semaphore_sim.pipelines)


def many_pipelines_sim(**faults) -> SemaphoreSimulator:
    sim = SemaphoreSimulator(
        TOKEN, seed=11, scale=Scale(projects=1, builds=70, jobs=1, arrival_every=0), clock=Clock(manual=True)
    ).serve()
    sim.faults = Faults(**faults)
    return sim


def test_a_repeating_pipelines_page_stops_the_listing_in_words_and_resumes_there(db, settings):
    settings.GONE_CONFIRM_SECONDS = 0
    sim = many_pipelines_sim(repeated_page_rate=1.0)
    try:
        connection = make_connection(sim, options={"sync_agents": False, "sync_deployments": False})
        run = sync_connection(connection.pk)

        connection.refresh_from_db()
        assert connection.health == Health.DEGRADED and run.status == SyncRun.Status.PARTIAL
        assert "sent the same page of pipelines of" in connection.last_error
        assert sum(1 for r in sim.requests if r.path == f"{V1}/pipelines") == 2  # two list pages, not 3,000
        held = Build.objects.count()
        assert held == 30

        sim.faults = Faults()
        run = sync_connection(connection.pk)

        assert run.status == SyncRun.Status.OK, run.error
        assert Build.objects.count() == 70
        connection.refresh_from_db()
        assert connection.health == Health.OK
    finally:
        sim.stop()


def test_a_project_list_without_end_is_cut_short_and_the_projects_held_are_synced(semaphore, semaphore_sim, clock):
    sync_connection(semaphore.pk)
    held = set(Project.objects.values_list("external_id", flat=True))
    calls = {"n": 0}

    def endless(request):  # a new project on every page, and always "more"
        calls["n"] += 1
        page = int(request.args.get("page", 1))
        if page > 100:
            return semaphore_sim.json({"message": "page must be at most 100"}, status=400)
        project = {"metadata": {"id": str(uuid.UUID(int=page)), "name": f"p{page}"}}
        return semaphore_sim.json([project], headers={"x-page": str(page), "x-has-more": "true"})

    semaphore_sim.list_projects = endless
    clock.advance(31)
    run = sync_connection(semaphore.pk)

    semaphore.refresh_from_db()
    assert calls["n"] <= 101 and run.requests < 400
    assert "the 2 project(s) held are synced" in semaphore.last_error
    assert semaphore.health == Health.DEGRADED
    assert set(Project.objects.values_list("external_id", flat=True)) == held  # nothing invented
    assert set(Build.objects.values_list("external_id", flat=True)) == set(semaphore_sim.pipelines)


def test_an_empty_page_that_says_more_follow_is_not_the_end_of_a_listing(semaphore, semaphore_sim):
    semaphore_sim.faults = Faults(endless_pages=1.0)

    run = sync_connection(semaphore.pk)

    semaphore.refresh_from_db()
    assert run.status != SyncRun.Status.OK and semaphore.health == Health.DEGRADED
    assert "that says more follow" in semaphore.last_error
    assert run.requests < 100
    semaphore_sim.faults = Faults()
    assert sync_connection(semaphore.pk).status == SyncRun.Status.OK


def test_configured_projects_keep_the_names_a_listing_gave_them(semaphore, semaphore_sim):
    sync_connection(semaphore.pk)
    semaphore.options = {"project_ids": list(semaphore_sim.projects)}
    semaphore.save()
    semaphore_sim.requests.clear()

    run = sync_connection(semaphore.pk)

    assert run.status == SyncRun.Status.OK, run.error
    assert semaphore_sim.count(f"{V1}/projects") == 0
    names = dict(Project.objects.values_list("external_id", "name"))
    assert names == {p.id: p.name for p in semaphore_sim.projects.values()}


def test_passed_pipelines_and_blocks_give_test_as_their_reason(api, semaphore_sim):
    passed = next(
        p
        for p in semaphore_sim.pipelines.values()
        if p.state(semaphore_sim.now()) == "done" and p.result(0)[0] == "passed"
    )

    described = api.pipeline(passed.id)
    listed = next(p for p in api.pipelines_page(passed.project_id)[0] if p["ppl_id"] == passed.id)

    assert (described["pipeline"]["result"], described["pipeline"]["result_reason"]) == ("passed", "test")
    assert (listed["result"], listed["result_reason"]) == ("PASSED", "TEST")
    assert {b["result_reason"] for b in described["blocks"]} == {"test"}
