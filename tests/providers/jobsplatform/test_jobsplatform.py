"""The jobs platform end to end: the client and the simulator agree on the contract, and a
sync stores projects, job definitions, runs and schedules the way a user expects."""

import httpx
import pytest

from dashboard.logstore import read, refresh_log
from dashboard.models import Build, Job, Pipeline, Project, Schedule, SyncRun
from dashboard.sync import sync_connection
from providers.jobsplatform import contract as c
from providers.jobsplatform.adapter import JobsPlatformAdapter
from providers.jobsplatform.client import Window
from tests.conftest import make_connection

from . import support


def sim_run_ids(sim) -> set[str]:
    return {f"{r.job_id}:{r.id}" for r in sim.runs.values()}


# The contract ----------------------------------------------------------------------------------
def test_the_client_reads_every_documented_read_operation(api, jp_sim):
    project = support.first_project(jp_sim)
    heartbeat = support.job_named(jp_sim, "heartbeat")

    jobs = api.jobs(project)
    assert [j[c.NAME] for j in jobs] == ["backfill-events", "db-migrate", "heartbeat", "nightly-report"]
    job = api.job(project, heartbeat.id)
    assert job[c.IMAGE] == "busybox:1.36" and job[c.SCHEDULE] == "* * * * *" and job[c.TAGS] == ["monitoring"]
    status = api.job_status(project, heartbeat.id)
    assert status[c.RUN_COUNTS][c.TOTAL] == len(heartbeat.runs)
    assert status[c.NEXT_FIRE_AT] and status[c.LATEST_RUN][c.TRIGGER] == c.SCHEDULED
    runs = api.runs(project, heartbeat.id)
    created = [r[c.CREATED_AT] for r in runs]
    assert created == sorted(created, reverse=True), "runs are listed newest first"
    run = api.run(project, heartbeat.id, runs[-1][c.RUN_ID])
    assert run[c.RUN_STATUS] in c.TERMINAL and run[c.EXIT_CODE] is not None
    entries, truncated = api.logs(project, heartbeat.id, run[c.RUN_ID])
    assert entries and not truncated
    assert {e[c.STREAM] for e in entries} <= {c.STDOUT, c.STDERR}
    assert entries[0][c.LINE] == "Pulling image busybox:1.36"
    metrics = api.metrics(project, heartbeat.id, [c.CPU_USAGE, c.MEMORY_USAGE], Window(since=600))
    assert metrics[c.CPU_USAGE][c.STATUS] == c.SUCCESS and metrics[c.CPU_USAGE][c.UNIT] == "cores"
    assert metrics[c.MEMORY_USAGE][c.UNIT] == "bytes" and len(metrics[c.MEMORY_USAGE][c.SERIES]) > 10
    assert api.server_time is not None and abs(api.server_time.timestamp() - jp_sim.now()) < 2


def test_every_answer_success_or_error_is_wrapped_in_the_envelope(jp_sim):
    project = support.first_project(jp_sim)
    base = f"{jp_sim.url}/v1/workspaces/{jp_sim.workspace_id}/projects/{project}/jobs"
    good = {"Authorization": f"Bearer {jp_sim.token}"}
    answers = [
        httpx.get(base, headers=good),
        httpx.get(f"{base}/job_nope", headers=good),
        httpx.get(base, headers={"Authorization": "Bearer wrong"}),
        httpx.get(f"{jp_sim.url}/v2/elsewhere", headers=good),
        httpx.post(base, headers=good, content=b"not json"),
    ]
    assert [a.status_code for a in answers] == [200, 404, 401, 404, 400]
    for answer in answers:
        body = answer.json()
        assert set(body) == {c.STATUS, c.MESSAGE, c.DATA}
        assert body[c.STATUS] == (c.SUCCESS if answer.status_code == 200 else c.ERROR)
        assert body[c.MESSAGE]


def test_projects_are_discovered_when_the_connection_names_none(db, jp_sim):
    connection = make_connection(jp_sim, "disc", options={"workspace_id": jp_sim.workspace_id})
    run = sync_connection(connection.pk)

    assert run.status == SyncRun.Status.OK, run.error
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


# Sync -----------------------------------------------------------------------------------
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
    build = Build.objects.filter(pipeline=support.pipeline_of(heartbeat)).order_by("-created_at").first()
    assert build.triggered_by == "schedule" and build.title == "heartbeat"
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


def test_a_quiet_sync_writes_nothing_and_lists_no_runs(jp, jp_sim):
    sync_connection(jp.pk)
    support.settle(jp_sim)
    sync_connection(jp.pk)  # the runs that were in flight finish
    jp_sim.requests.clear()

    run = sync_connection(jp.pk)

    assert (run.created, run.updated) == (0, 0)
    listed = [r.path for r in jp_sim.requests if r.path.endswith("/runs") or "/runs/" in r.path]
    assert listed == [], "finished runs are never fetched again and nothing new means no runs list"
    assert run.requests == 2 + 8  # the jobs list of each project, then one status per job


def test_runs_appear_as_the_clock_moves_and_finish(jp, jp_sim):
    sync_connection(jp.pk)
    heartbeat = support.job_named(jp_sim, "heartbeat")
    before = Build.objects.filter(pipeline=support.pipeline_of(heartbeat)).count()

    jp_sim.clock.advance(31)  # past the next minute: one fire in each project
    sync_connection(jp.pk)

    builds = Build.objects.filter(pipeline=support.pipeline_of(heartbeat)).order_by("-created_at")
    assert builds.count() == before + 1
    newest = builds.first()
    assert newest.state in ("queued", "running") and newest.triggered_by == "schedule"

    support.settle(jp_sim)
    sync_connection(jp.pk)
    newest.refresh_from_db()
    assert newest.state in ("passed", "failed")
    assert newest.jobs.get().exit_code is not None


def test_a_job_deleted_at_the_platform_takes_its_rows_with_it(jp, jp_sim, api):
    sync_connection(jp.pk)
    heartbeat = support.job_named(jp_sim, "heartbeat")
    pipeline = support.pipeline_of(heartbeat)
    jp_sim.clock.advance(31)
    sync_connection(jp.pk)
    in_flight = Build.objects.filter(pipeline=pipeline, state__in=["queued", "running"]).get()

    api.delete_job(heartbeat.project_id, heartbeat.id)
    run = sync_connection(jp.pk)

    assert run.status == SyncRun.Status.OK, run.error
    # The definition stays with its history (old runs keep their pipeline), marked gone.
    assert Pipeline.objects.get(pk=pipeline.pk).gone
    assert not Schedule.objects.filter(external_id=pipeline.external_id).exists()
    in_flight.refresh_from_db()
    assert in_flight.gone, "an unfinished run of a deleted job is marked gone"


def test_a_schedule_removed_by_an_update_disappears(jp, jp_sim, api):
    sync_connection(jp.pk)
    nightly = support.job_named(jp_sim, "nightly-report")
    api.update_job(nightly.project_id, nightly.id, {c.SCHEDULE: None})

    sync_connection(jp.pk)

    assert not Schedule.objects.filter(external_id=f"{nightly.project_id}:{nightly.id}").exists()
    assert Pipeline.objects.get(external_id=f"{nightly.project_id}:{nightly.id}").raw["job"][c.SCHEDULE] is None


def test_a_first_sync_reads_at_most_backfill_runs_per_job(db, jp_sim):
    connection = make_connection(jp_sim, "small", options={**jp_sim.connection_options(), "backfill_runs": 2})
    sync_connection(connection.pk)

    heartbeat = support.job_named(jp_sim, "heartbeat")
    assert Build.objects.filter(pipeline=support.pipeline_of(heartbeat)).count() == 2


# Stored logs --------------------------------------------------------------------------------
def log_text(job: Job) -> str:
    return "".join(read(job.log))


def test_a_finished_runs_log_is_stored_whole_with_stderr_in_red(jp, jp_sim):
    sync_connection(jp.pk)
    run = next(
        r
        for r in jp_sim.runs.values()
        if r.status(jp_sim.now()) == c.FAILED and any(s == c.STDERR for _, s, _ in r.lines)
    )
    job = Job.objects.get(external_id=f"{run.job_id}:{run.id}")

    log = refresh_log(job)

    text = log_text(job)
    assert log.complete
    expected = [line for _, _, line in run.log(jp_sim.now())]
    assert [ln.replace("\x1b[31m", "").replace("\x1b[0m", "") for ln in text.splitlines()[:-1]] == expected
    for _, stream, line in run.log(jp_sim.now()):
        assert (f"\x1b[31m{line}\x1b[0m" in text) == (stream == c.STDERR)
    assert text.splitlines()[-1] == f"\x1b[2mRun failed, exit code {run.exit_code}\x1b[0m"


def test_a_running_runs_log_grows_without_repeating_a_line(jp, jp_sim, api):
    sync_connection(jp.pk)
    backfill = support.job_named(jp_sim, "backfill-events")
    triggered = api.trigger_run(backfill.project_id, backfill.id)
    sync_connection(jp.pk)
    job = Job.objects.get(external_id=f"{backfill.id}:{triggered[c.RUN_ID]}")
    run = jp_sim.runs[triggered[c.RUN_ID]]

    jp_sim.clock.advance(run.start - jp_sim.now() + run.duration / 2)
    first = refresh_log(job)
    assert not first.complete and first.size > 0
    jp_sim.clock.advance(run.duration)
    last = refresh_log(job)

    assert last.complete
    lines = [ln.replace("\x1b[31m", "").replace("\x1b[0m", "") for ln in log_text(job).splitlines()[:-1]]
    assert lines == [line for _, _, line in run.log(jp_sim.now())]


def test_a_log_longer_than_one_page_is_read_page_by_page(jp_sim, api, monkeypatch):
    monkeypatch.setattr(c, "MAX_LOG_LIMIT", 4)  # both sides read it: pages of four lines
    run = max(jp_sim.runs.values(), key=lambda r: len(r.lines))
    entries = api.run_log_after(run.project_id, run.job_id, run.id, None)

    assert [e[c.LINE] for e in entries] == [line for _, _, line in run.log(jp_sim.now())]
    assert len(entries) > 8
