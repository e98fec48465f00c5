"""Semaphore jobs in both API shapes (docs/providers/semaphore.md, "Jobs (v1alpha)",
"Jobs (v2)"): jobs exist only once their block is scheduled, their times never run
ahead, a created job keeps the spec it was sent, stop and terminate, debug on another
machine, the active jobs of one project, and what the job page shows."""

import pytest
from django.urls import reverse

from dashboard.actions import run_action
from dashboard.models import Job, Project
from dashboard.sync import sync_connection
from providers.base.errors import NotFound
from providers.base.parse import timestamp
from providers.semaphore.actions.jobs import CreateJobForm, DebugForm
from providers.semaphore.mapping.jobs import is_phantom, job_view
from providers.semaphore.sim import SemaphoreSimulator
from tests.conftest import make_connection

from .support import action, api_panel_url, panel_url, running_job

V1 = "/api/v1alpha"


def new_pipeline(api, sim):
    project_id = next(iter(sim.projects))
    answer = api.run_workflow(project_id, "refs/heads/fresh")
    return sim.pipelines[answer["pipeline_id"]]


def test_a_blocks_jobs_exist_only_once_the_block_is_scheduled(api, semaphore_sim, clock):
    ppl = new_pipeline(api, semaphore_sim)
    planned = [job.id for block in ppl.blocks for job in block.jobs]

    described = api.pipeline(ppl.id)
    listed = {j["metadata"]["id"] for j in api.jobs(("PENDING", "QUEUED", "RUNNING", "FINISHED"), limit=10_000)}
    listed_v2 = {j["metadata"]["id"] for j in api.jobs_v2(limit=10_000)}

    assert all(block["jobs"] == [] for block in described["blocks"])
    assert not listed & set(planned) and not listed_v2 & set(planned)
    with pytest.raises(NotFound):
        api.job(planned[0])
    with pytest.raises(NotFound):
        api.job_v2(planned[0])

    clock.advance(ppl.blocks[0].start - semaphore_sim.now() + 0.1)
    first_block = {j["job_id"] for j in api.pipeline(ppl.id)["blocks"][0]["jobs"]}
    assert first_block == {job.id for job in ppl.blocks[0].jobs}
    assert api.job(planned[0])["metadata"]["id"] == planned[0]


def test_a_block_that_never_runs_has_no_jobs_anywhere(synced, semaphore_sim, clock):
    clock.advance(120)
    sync_connection(synced.pk)
    skipped = [(p, b) for p in semaphore_sim.pipelines.values() for b in p.blocks if b.start is None]
    assert skipped, "the seed has a block whose dependency failed"

    for _, block in skipped:
        assert not Job.objects.filter(external_id__in=[j.id for j in block.jobs]).exists()
    assert set(Job.objects.values_list("external_id", flat=True)) == set(semaphore_sim.truth()["jobs"])


def test_job_times_never_run_ahead_of_the_clock_or_of_each_other(api, semaphore_sim, clock):
    new_pipeline(api, semaphore_sim)
    clock.advance(8)
    now = semaphore_sim.now()

    for job in api.jobs(("PENDING", "QUEUED", "RUNNING", "FINISHED"), limit=10_000):
        meta = job["metadata"]
        created, updated = int(meta["create_time"]), int(meta["update_time"])
        assert 0 < created <= updated <= now, meta
    for job in api.jobs_v2(limit=10_000):
        times = job["metadata"]["timeline"]
        assert timestamp(times["created_at"]) <= timestamp(times["updated_at"]), times
        assert timestamp(times["updated_at"]).timestamp() <= now + 0.001


def test_a_listed_job_that_cannot_exist_is_not_shown(synced, semaphore_sim, viewer_client):
    phantom = {"metadata": {"id": "5a0c9e1e-6c4e-4d5f-9a83-2a2f3d1c7b11", "name": "ghost", "create_time": "0"}}
    finished_without_end = {
        "metadata": {"id": "6a0c9e1e-6c4e-4d5f-9a83-2a2f3d1c7b11", "name": "ghost 2", "create_time": "1700000000"},
        "status": {"state": "FINISHED", "result": "PASSED"},
    }
    original = semaphore_sim.v2_list_jobs

    def with_phantoms(request):
        response = original(request)
        import json

        body = json.loads(response.get_data())
        response.set_data(json.dumps([phantom, finished_without_end, *body]))
        return response

    semaphore_sim.v2_list_jobs = with_phantoms
    assert is_phantom(phantom) and is_phantom(finished_without_end)

    data = viewer_client.get(api_panel_url(synced, "connection_extra", "connection")).json()["data"]

    assert "ghost" not in [j["name"] for j in data["active_jobs"]]


@pytest.mark.parametrize("jobs_api", ["v1alpha", "v2"])
def test_a_created_job_keeps_the_spec_it_was_sent(db, clock, semaphore_sim, operator, jobs_api):
    connection = make_connection(semaphore_sim, slug=f"create-{jobs_api}", options={"jobs_api": jobs_api})
    sync_connection(connection.pk)
    project = Project.objects.filter(connection=connection).first()
    form = CreateJobForm(
        data={
            "name": "Nightly import",
            "machine_type": "e1-standard-4",
            "os_image": "ubuntu2204",
            "commands": "make import\nmake report",
            "env_vars": "TARGET=prod",
            "secrets": "import-creds",
            "execution_time_limit": "900",
        },
        target=project,
    )
    assert form.is_valid(), form.errors

    outcome = run_action(operator, connection, action("create_job"), project, form.cleaned_data)

    assert outcome.ok, outcome.message
    job_id = outcome.message.split("(")[1].split(")")[0]
    view = job_view(semaphore_sim.job_json(*semaphore_sim.jobs[job_id]))
    if jobs_api == "v2":
        view = job_view(semaphore_sim.v2_job_json(*semaphore_sim.jobs[job_id]))
        assert view["time_limit"] == 900
    assert view["commands"] == ["make import", "make report"]
    assert view["env_vars"] == [{"name": "TARGET", "value": "prod"}]
    assert view["secrets"] == ["import-creds"]  # not a spec it was never sent
    assert (view["machine_type"], view["os_image"]) == ("e1-standard-4", "ubuntu2204")


@pytest.mark.parametrize("jobs_api, path", [("v1alpha", "/stop"), ("v2", "/terminate")])
def test_stopping_a_running_job_stops_it_at_semaphore(db, clock, operator, jobs_api, path):
    sim = SemaphoreSimulator("t", seed=7, clock=clock).serve()
    try:
        connection = make_connection(sim, slug=f"stop-{jobs_api}", options={"jobs_api": jobs_api})
        job = running_job(sim, clock, connection)

        outcome = run_action(operator, connection, action("stop_job"), job, {})

        assert outcome.ok and outcome.message == f"Stopping {job.name}."
        assert any(r.path.endswith(f"{job.external_id}{path}") and r.method == "POST" for r in sim.requests)
        clock.advance(2)
        sync_connection(connection.pk)
        job.refresh_from_db()
        assert job.state == "canceled" and job.raw_state == "finished/stopped"
    finally:
        sim.stop()


def test_a_v2_debug_session_may_run_on_another_machine(db, clock, semaphore_sim, operator):
    connection = make_connection(semaphore_sim, slug="debug-v2", options={"jobs_api": "v2"})
    sync_connection(connection.pk)
    job = Job.objects.filter(connection=connection).first()
    form = DebugForm(data={"minutes": "5", "machine_type": "e1-standard-8", "os_image": "ubuntu2204"}, target=job)
    assert form.is_valid(), form.errors
    assert not DebugForm(data={"minutes": "5", "os_image": "ubuntu2204"}, target=job).is_valid()

    outcome = run_action(operator, connection, action("debug_job"), job, form.cleaned_data)

    assert outcome.ok and "on e1-standard-8" in outcome.message
    session = next(j for _, j in semaphore_sim.jobs.values() if j.debug_of == job.external_id)
    assert (session.machine_type, session.os_image, session.time_limit) == ("e1-standard-8", "ubuntu2204", 300)


@pytest.mark.parametrize("jobs_api", ["v1alpha", "v2"])
def test_the_active_jobs_of_one_project(db, clock, semaphore_sim, viewer_client, jobs_api):
    connection = make_connection(semaphore_sim, slug=f"active-{jobs_api}", options={"jobs_api": jobs_api})
    sync_connection(connection.pk)
    for project in semaphore_sim.projects.values():  # something runs in both projects
        semaphore_sim.create_workflow(
            project,
            branch="busy",
            commit_sha="a" * 40,
            created=semaphore_sim.now(),
            triggered_by="API",
            key=("busy", project.id),
        )
    clock.advance(8)
    project_id = next(iter(semaphore_sim.projects))
    semaphore_sim.requests.clear()

    html = viewer_client.get(panel_url(connection, "connection_extra", "connection"), {"jobs_project": project_id})
    data = viewer_client.get(
        api_panel_url(connection, "connection_extra", "connection"), {"jobs_project": project_id}
    ).json()["data"]

    assert html.status_code == 200 and f'<option value="{project_id}" selected>' in html.content.decode()
    assert data["active_jobs"] and {j["project"]["id"] for j in data["active_jobs"]} == {project_id}
    if jobs_api == "v2":
        assert any(f"project_id={project_id}" in r.query for r in semaphore_sim.requests)


def test_the_job_page_shows_where_the_job_belongs_and_who_made_it(db, clock, semaphore_sim, viewer_client):
    connection = make_connection(semaphore_sim, slug="where", options={"jobs_api": "v2"})
    sync_connection(connection.pk)
    job = Job.objects.filter(connection=connection, state__in=["passed", "failed"]).first()
    ppl, _ = semaphore_sim.jobs[job.external_id]

    page = viewer_client.get(reverse("job", args=["semaphore", "where", job.external_id])).content.decode()
    data = viewer_client.get(api_panel_url(connection, "job_panel", "job", job.external_id)).json()["data"]

    spec = data["spec"]
    assert spec["organization"]["name"] == "acme" and spec["project"]["id"] == ppl.project_id
    assert spec["workflow"]["id"] == ppl.wf_id and spec["pipeline"]["id"] == ppl.id
    assert spec["created_by"] == {"id": ppl.requester_id, "type": "USER"}
    assert f"<code>{ppl.wf_id}</code>" in page and f'title="{ppl.requester_id}"' in page
    assert "Organization" in page and "Created by" in page


def test_a_self_hosted_agents_name_is_shown():
    view = job_view(
        {
            "metadata": {"id": "j", "create_time": "1700000000"},
            "spec": {"agent": {"machine": {"type": "s1-linux-small"}}},
            "status": {"state": "RUNNING", "agent": {"name": "JE1wNRR53A9IORQTMQhb", "ip": ""}},
        }
    )

    assert view["agent_name"] == "JE1wNRR53A9IORQTMQhb" and view["machine_type"] == "s1-linux-small"
