"""A prunner connection synced end to end into the database, over real HTTP
(docs/providers/prunner.md, "Sync")."""

from __future__ import annotations

from dashboard.models import Build, Health, Job, Pipeline, SyncRun
from dashboard.sync import sync_connection

from .support import call


def listed(sim) -> dict[str, dict]:
    return {job["id"]: job for job in call(sim, "GET", "/pipelines/jobs").json()["jobs"]}


def test_the_first_sync_stores_every_retained_job_with_its_task_graph(prunner, prunner_sim):
    run = sync_connection(prunner.pk)

    assert run.status == SyncRun.Status.OK, run.error
    # Everything comes in one answer (no paging, no detail calls); the rest are the logs
    # of recently finished tasks, which the engine stores at once.
    assert prunner_sim.count("/pipelines/") == 1 and prunner_sim.count("/job/detail") == 0
    assert run.requests == 1 + prunner_sim.count("/job/logs")
    jobs = listed(prunner_sim)
    assert set(Build.objects.values_list("external_id", flat=True)) == set(jobs)
    expected_tasks = {f"{job_id}:{t['name']}" for job_id, job in jobs.items() for t in job["tasks"]}
    assert set(Job.objects.values_list("external_id", flat=True)) == expected_tasks
    prunner.refresh_from_db()
    assert prunner.health == Health.OK


def test_builds_carry_the_pipeline_user_variables_and_timings(prunner, prunner_sim):
    sync_connection(prunner.pk)
    deploy = next(j for j in listed(prunner_sim).values() if j["pipeline"] == "deploy")
    build = Build.objects.select_related("pipeline").get(external_id=deploy["id"])

    assert build.pipeline.name == "deploy" and build.pipeline.external_id == "deploy"
    assert build.number == deploy["id"][:8]
    assert build.title.startswith("deploy · ") and f"tag_name={deploy['variables']['tag_name']}" in build.title
    assert build.triggered_by == deploy["user"]
    assert build.raw["variables"] == deploy["variables"]
    assert build.started_at.strftime("%Y-%m-%dT%H:%M:%SZ") == deploy["start"]
    assert build.finished_at.strftime("%Y-%m-%dT%H:%M:%SZ") == deploy["end"]


def test_pipelines_keep_schedulable_running_and_how_many_jobs_wait(prunner, prunner_sim):
    sync_connection(prunner.pk)
    names = {p["pipeline"] for p in call(prunner_sim, "GET", "/pipelines/").json()["pipelines"]}
    assert set(Pipeline.objects.values_list("name", flat=True)) == names
    assert Pipeline.objects.get(name="deploy").raw == {"schedulable": True, "running": False, "waiting": 0}
    assert Pipeline.objects.get(name="rollback").raw == {"schedulable": False, "running": False, "waiting": 0}


def test_tasks_keep_their_status_exit_code_and_dependencies(prunner, prunner_sim):
    sync_connection(prunner.pk)
    job = next(j for j in listed(prunner_sim).values() if j["pipeline"] == "build_and_test")
    tasks = {t.name: t for t in Job.objects.filter(build__external_id=job["id"])}

    package = tasks["package"]
    assert sorted(package.depends_on) == sorted(f"{job['id']}:{d}" for d in ("build", "lint", *_shards(tasks)))
    assert tasks["checkout"].depends_on == []
    assert package.raw_state == package.raw["status"]
    assert [t.name for t in sorted(tasks.values(), key=lambda t: t.position)] == [t["name"] for t in job["tasks"]]
    for task in tasks.values():
        if task.raw_state == "done" and not task.allowed_failure:
            assert (task.state, task.exit_code) == ("passed", None)  # prunner's -1: not known


def _shards(tasks) -> list[str]:
    return [name for name in tasks if name.startswith("unit_tests_")]


def test_a_quiet_second_sync_writes_nothing_and_skips_finished_jobs(prunner, prunner_sim):
    sync_connection(prunner.pk)
    prunner_sim.requests.clear()

    run = sync_connection(prunner.pk)

    assert (run.created, run.updated) == (0, 0)
    assert [r.path for r in prunner_sim.requests] == ["/pipelines/jobs"]


def test_jobs_move_through_their_states_as_time_passes(prunner, prunner_sim, clock):
    sync_connection(prunner.pk)
    clock.advance(31)  # a new job arrives
    sync_connection(prunner.pk)
    new = set(Build.objects.filter(state__in=["queued", "running"]).values_list("external_id", flat=True))
    assert new

    clock.advance(100)  # long enough to finish, too short for retention to drop it
    run = sync_connection(prunner.pk)

    assert run.status == SyncRun.Status.OK
    assert set(Build.objects.filter(external_id__in=new).values_list("state", flat=True)) <= {
        "passed",
        "failed",
        "canceled",
    }
    assert not Job.objects.filter(build__external_id__in=new, state__in=["queued", "running"]).exists()


def test_jobs_prunner_no_longer_retains_stay_in_our_history_marked_gone(
    prunner, prunner_sim, clock, believe_deletions_at_once
):
    sync_connection(prunner.pk)
    before = set(Build.objects.values_list("external_id", flat=True))

    clock.advance(30 * 5 + 200)  # one new job per pipeline pushes each oldest one out
    sync_connection(prunner.pk)
    assert not Build.objects.filter(gone=True).exists(), "one listing is not enough"
    sync_connection(prunner.pk)

    dropped = before - set(listed(prunner_sim))
    assert dropped and dropped <= set(prunner_sim.world.removed)
    assert set(Build.objects.filter(gone=True).values_list("external_id", flat=True)) == dropped
    assert Build.objects.filter(external_id__in=dropped).count() == len(dropped)  # kept
    assert Job.objects.filter(build__external_id__in=dropped).exists()


def test_a_sync_keeps_a_running_job_polled_until_it_ends(prunner, prunner_sim, clock):
    sync_connection(prunner.pk)
    job_id = call(prunner_sim, "POST", "/pipelines/schedule", json={"pipeline": "nightly_cleanup"}).json()["jobId"]
    sync_connection(prunner.pk)
    assert Build.objects.get(external_id=job_id).state == "running"

    clock.advance(60)
    sync_connection(prunner.pk)
    build = Build.objects.get(external_id=job_id)
    assert build.state in ("passed", "failed") and build.finished_at is not None
    assert build.triggered_by == "tester"


def test_the_connection_check_counts_the_pipelines(prunner, prunner_sim):
    from providers.prunner.adapter import PrunnerAdapter

    adapter = PrunnerAdapter(prunner)
    try:
        assert adapter.check() == "ok: 6 pipeline(s)"
    finally:
        adapter.close()


def test_a_sync_keeps_no_cursor(prunner, prunner_sim):
    sync_connection(prunner.pk)
    sync_connection(prunner.pk)
    prunner.refresh_from_db()
    assert prunner.sync_cursor == {}  # every sync reads the whole listing


def test_a_pipeline_prunner_no_longer_defines_keeps_its_history_and_cannot_be_scheduled(
    prunner, prunner_sim, believe_deletions_at_once
):
    from providers.prunner.actions import NOT_DEFINED, actions

    sync_connection(prunner.pk)
    held = Build.objects.filter(pipeline__name="render_content").count()
    prunner_sim.world.undefine("render_content")

    sync_connection(prunner.pk)
    assert not Pipeline.objects.get(name="render_content").gone, "one listing is not enough"
    run = sync_connection(prunner.pk)

    assert run.status == SyncRun.Status.OK
    render = Pipeline.objects.get(name="render_content")
    assert render.gone
    assert actions.get("schedule").unavailable(render) == NOT_DEFINED
    assert Build.objects.filter(pipeline=render, gone=True).count() == held
    sync_connection(prunner.pk)
    assert Pipeline.objects.get(name="render_content").gone
