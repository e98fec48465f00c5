"""A sync of the jobs platform stores projects by name, job definitions, runs and
schedules the way a user expects, costs little when nothing changed, and believes a
deletion only on evidence that holds (docs/providers/jobsplatform.md, "Sync")."""

import pytest
from werkzeug.wrappers import Response

from dashboard.models import Build, Connection, Health, Pipeline, Project, Schedule, SyncRun
from dashboard.sync import apply_batch, sync_connection
from providers.base.records import Batch
from providers.base.sim import Faults
from providers.jobsplatform import contract as c
from providers.jobsplatform.adapter import JobsPlatformAdapter
from providers.jobsplatform.mapping import build_record, short_id
from tests.conftest import make_connection

from . import support


def sim_run_ids(sim) -> set[str]:
    return {f"{r.job_id}:{r.id}" for r in sim.runs.values()}


def builds_of(job) -> list[Build]:
    return list(Build.objects.filter(pipeline=support.pipeline_of(job)).order_by("-created_at"))


# Projects ---------------------------------------------------------------------------------------
def test_projects_are_discovered_when_the_connection_names_none(db, jp_sim):
    connection = make_connection(jp_sim, "disc", options={"workspace_id": jp_sim.workspace_id})
    run = sync_connection(connection.pk)

    assert run.status == SyncRun.Status.OK, run.error
    assert sorted(Project.objects.values_list("name", flat=True)) == ["data", "ops"]


def test_projects_named_in_the_options_are_shown_by_their_names(jp, jp_sim):
    run = sync_connection(jp.pk)

    assert run.status == SyncRun.Status.OK, run.error
    assert dict(Project.objects.values_list("external_id", "name")) == {p.id: p.name for p in jp_sim.projects.values()}


def test_without_a_project_list_the_names_stored_before_are_kept(jp, jp_sim):
    sync_connection(jp.pk)
    jp_sim.list_projects = lambda request, **kw: jp_sim.fail(404, "No such endpoint.")

    run = sync_connection(jp.pk)

    assert run.status == SyncRun.Status.OK, "a platform without the (undocumented) list is not in trouble"
    assert sorted(Project.objects.values_list("name", flat=True)) == ["data", "ops"]


def test_a_connection_without_a_workspace_is_refused_in_words(db, jp_sim):
    connection = make_connection(jp_sim, "nows", options={})
    run = sync_connection(connection.pk)

    connection.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert "options.workspace_id" in connection.last_error
    with pytest.raises(Exception, match="workspace_id"):
        JobsPlatformAdapter(connection).check()


def test_check_counts_the_jobs_it_can_see(adapter):
    assert adapter.check().startswith("ok: 8 job(s) in 2 project(s)")


# What a sync stores -------------------------------------------------------------------------------
def test_first_sync_stores_every_job_run_and_schedule(jp, jp_sim):
    run = sync_connection(jp.pk)

    assert run.status == SyncRun.Status.OK, run.error
    assert run.requests == jp_sim.count("/v1/")
    assert Pipeline.objects.count() == 8
    assert set(Build.objects.values_list("external_id", flat=True)) == sim_run_ids(jp_sim)
    for build in Build.objects.all():
        job = build.jobs.get()
        assert job.external_id == build.external_id, "the run is its own single job"
        assert (job.state, job.raw_state) == (build.state, build.raw_state)
    heartbeat = support.job_named(jp_sim, "heartbeat")
    build = builds_of(heartbeat)[0]
    run_id = build.external_id.split(":")[1]
    assert build.triggered_by == "schedule" and build.pipeline.name == "heartbeat"
    assert build.title == f"Run {short_id(run_id)}" and build.jobs.get().name == "heartbeat", "the name is said once"
    schedules = Schedule.objects.order_by("name", "external_id")
    assert [(s.name, s.cron) for s in schedules] == [
        ("heartbeat", "* * * * *"),
        ("heartbeat", "* * * * *"),
        ("nightly-report", "0 3 * * *"),
        ("nightly-report", "0 3 * * *"),
    ]
    stored = Schedule.objects.get(external_id=f"{heartbeat.project_id}:{heartbeat.id}")
    assert stored.next_run_at.timestamp() == heartbeat.next_fire
    assert stored.pipeline == support.pipeline_of(heartbeat)
    assert stored.raw["missed"] is False


def test_a_short_run_id_drops_its_type_prefix():
    assert short_id("run_3f9a2c1d8e1f") == "3f9a2c1d"
    assert short_id("0b5c3a5e-93a3-4b0b-9d5c-6f0f3b1f1e2a") == "0b5c3a5e"
    assert short_id("r1") == "r1"


def test_a_quiet_sync_writes_nothing_and_lists_no_runs(jp, jp_sim):
    sync_connection(jp.pk)
    support.settle(jp_sim)
    sync_connection(jp.pk)  # the runs that were in flight finish
    jp_sim.requests.clear()

    run = sync_connection(jp.pk)

    assert (run.created, run.updated) == (0, 0)
    listed = [r.path for r in jp_sim.requests if r.path.endswith("/runs") or "/runs/" in r.path]
    assert listed == [], "finished runs are never fetched again and nothing new means no runs list"
    assert run.requests == 1 + 2 + 8  # the project names, the jobs list of each project, one status per job


def test_runs_appear_as_the_clock_moves_and_finish(jp, jp_sim):
    sync_connection(jp.pk)
    heartbeat = support.job_named(jp_sim, "heartbeat")
    before = len(builds_of(heartbeat))

    jp_sim.clock.advance(31)  # past the next minute: one fire in each project
    sync_connection(jp.pk)

    builds = builds_of(heartbeat)
    assert len(builds) == before + 1
    newest = builds[0]
    assert newest.state in ("queued", "running") and newest.triggered_by == "schedule"

    support.settle(jp_sim)
    sync_connection(jp.pk)
    newest.refresh_from_db()
    assert newest.state in ("passed", "failed")
    assert newest.jobs.get().exit_code is not None


def test_a_run_that_started_just_before_one_we_hold_is_found(jp, jp_sim, api):
    """The status shows only the latest run; the run count tells that another one came."""
    sync_connection(jp.pk)
    support.settle(jp_sim)
    sync_connection(jp.pk)
    backfill = support.job_named(jp_sim, "backfill-events")
    earlier = api.trigger_run(backfill.project_id, backfill.id)  # someone else's run, not synced yet
    latest = api.trigger_run(backfill.project_id, backfill.id)
    # Stored at once, as "Run now" stores the run it started.
    apply_batch(jp, Batch(builds=[build_record(backfill.project_id, backfill.id, backfill.name, latest)]))

    sync_connection(jp.pk)

    held = set(Build.objects.values_list("external_id", flat=True))
    assert f"{backfill.id}:{earlier[c.RUN_ID]}" in held


def test_an_unknown_run_state_is_polled_again_until_it_is_known(jp, jp_sim):
    jp_sim.faults = Faults(unknown_enum_rate=1.0)
    sync_connection(jp.pk)
    build = Build.objects.first()
    assert (build.state, build.raw_state) == ("unknown", "preempted")
    assert build.raw["run"][c.RUN_STATUS] == "preempted"

    jp_sim.faults = Faults()
    sync_connection(jp.pk)
    build.refresh_from_db()
    assert build.state in ("passed", "failed")


def test_a_first_sync_reads_at_most_backfill_runs_per_job(db, jp_sim):
    connection = make_connection(jp_sim, "small", options={**jp_sim.connection_options(), "backfill_runs": 2})
    sync_connection(connection.pk)

    heartbeat = support.job_named(jp_sim, "heartbeat")
    assert len(builds_of(heartbeat)) == 2


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


# Deletions: only on evidence that holds -------------------------------------------------------------
def test_one_empty_job_list_deletes_nothing_and_says_so(jp, jp_sim):
    sync_connection(jp.pk)
    pipelines = dict(Pipeline.objects.values_list("external_id", "pk"))
    schedules = dict(Schedule.objects.values_list("external_id", "pk"))
    builds = dict(Build.objects.values_list("external_id", "pipeline_id"))

    jp_sim.faults = Faults(empty_list_rate=1.0)
    during = [sync_connection(jp.pk) for _ in range(2)]
    jp_sim.faults = Faults()
    sync_connection(jp.pk)

    jp.refresh_from_db()
    assert all(r.status == SyncRun.Status.PARTIAL for r in during)
    assert "left out 4 of the 4 we hold at once" in during[0].error
    assert dict(Pipeline.objects.filter(gone=False).values_list("external_id", "pk")) == pipelines, "same rows"
    assert dict(Schedule.objects.values_list("external_id", "pk")) == schedules
    assert dict(Build.objects.filter(gone=False).values_list("external_id", "pipeline_id")) == builds
    assert jp.health == Health.OK


def test_a_job_deleted_at_the_platform_is_gone_once_two_syncs_agree(jp, jp_sim, api, believe_deletions_at_once):
    sync_connection(jp.pk)
    heartbeat = support.job_named(jp_sim, "heartbeat")
    pipeline = support.pipeline_of(heartbeat)
    jp_sim.clock.advance(31)
    sync_connection(jp.pk)
    in_flight = Build.objects.filter(pipeline=pipeline, state__in=["queued", "running"]).get()
    finished = Build.objects.filter(pipeline=pipeline, state__in=["passed", "failed"]).count()

    api.delete_job(heartbeat.project_id, heartbeat.id)
    first = sync_connection(jp.pk)
    assert not Pipeline.objects.get(pk=pipeline.pk).gone, "one answer is not enough"
    second = sync_connection(jp.pk)

    assert (first.status, second.status) == (SyncRun.Status.OK, SyncRun.Status.OK), second.error
    # The definition stays with its history (old runs keep their pipeline), marked gone.
    assert Pipeline.objects.get(pk=pipeline.pk).gone
    assert not Schedule.objects.filter(external_id=pipeline.external_id).exists()
    in_flight.refresh_from_db()
    assert in_flight.gone and in_flight.state == "unknown", "an unfinished run of a deleted job never finishes"
    assert Build.objects.filter(pipeline=pipeline, state__in=["passed", "failed"]).count() == finished


def test_a_schedule_removed_at_the_platform_goes_once_two_syncs_agree(jp, jp_sim, api, believe_deletions_at_once):
    sync_connection(jp.pk)
    nightly = support.job_named(jp_sim, "nightly-report")
    api.update_job(nightly.project_id, nightly.id, {c.SCHEDULE: None})

    sync_connection(jp.pk)
    assert Schedule.objects.filter(external_id=f"{nightly.project_id}:{nightly.id}").exists()
    sync_connection(jp.pk)

    assert not Schedule.objects.filter(external_id=f"{nightly.project_id}:{nightly.id}").exists()
    assert Pipeline.objects.get(external_id=f"{nightly.project_id}:{nightly.id}").raw["job"][c.SCHEDULE] is None


def test_runs_the_platform_no_longer_lists_are_gone_once_two_syncs_agree(jp, jp_sim, api, believe_deletions_at_once):
    sync_connection(jp.pk)
    backfill = support.job_named(jp_sim, "backfill-events")
    oldest = backfill.runs[0]
    # The platform drops an old run (its retention), and a new one arrives.
    backfill.runs.remove(oldest)
    del jp_sim.runs[oldest]
    api.trigger_run(backfill.project_id, backfill.id)

    sync_connection(jp.pk)
    support.settle(jp_sim)
    sync_connection(jp.pk)
    api.trigger_run(backfill.project_id, backfill.id)
    sync_connection(jp.pk)

    assert Build.objects.get(external_id=f"{backfill.id}:{oldest}").gone
    assert Build.objects.filter(gone=False).count() == len(jp_sim.runs)


def test_a_404_burst_on_runs_marks_nothing_gone(jp, jp_sim, believe_deletions_at_once):
    sync_connection(jp.pk)
    jp_sim.clock.advance(31)
    sync_connection(jp.pk)
    unfinished = set(Build.objects.filter(state__in=["queued", "running"]).values_list("external_id", flat=True))
    assert unfinished

    jp_sim.faults = Faults(not_found_rate=1.0)
    runs = [sync_connection(jp.pk) for _ in range(3)]

    assert all(r.status == SyncRun.Status.PARTIAL for r in runs)
    assert "could not show anything else either; they are kept" in runs[0].error
    assert not Build.objects.filter(gone=True).exists()
    assert Connection.objects.get(pk=jp.pk).health != Health.OK


def test_a_job_list_with_an_entry_without_its_id_is_no_evidence(jp, jp_sim, believe_deletions_at_once):
    sync_connection(jp.pk)
    original = jp_sim.list_jobs

    def spoiled(request, workspace_id, project_id):
        answer = original(request, workspace_id=workspace_id, project_id=project_id)
        body = answer.get_json()
        body[c.DATA][0].pop(c.JOB_ID)
        return jp_sim.json(body)

    jp_sim.list_jobs = spoiled
    runs = [sync_connection(jp.pk) for _ in range(2)]

    assert all("without job_id" in r.error for r in runs)
    assert not Pipeline.objects.filter(gone=True).exists()


def test_after_an_outage_every_new_run_is_read_however_many(db, jp_sim):
    connection = make_connection(jp_sim, "small", options={**jp_sim.connection_options(), "backfill_runs": 2})
    sync_connection(connection.pk)
    heartbeat = support.job_named(jp_sim, "heartbeat")
    assert len(builds_of(heartbeat)) == 2, "the first sync reads a little history"

    jp_sim.clock.advance(5 * 60)  # five fires while nobody synced
    sync_connection(connection.pk)

    assert len(builds_of(heartbeat)) == 2 + 5
