"""Semaphore's buttons from the pages (docs/providers/semaphore.md, "Workflows",
"Pipelines", "Promotions", "Jobs (v1alpha)", "Jobs (v2)"): workflows, pipelines,
promotions, YAML, jobs."""

import re

import pytest
from django.conf import settings
from django.urls import reverse

from dashboard.models import ActionLog, Build, Job, Project
from dashboard.sync import sync_connection

from .support import action_url, running_build, running_job


def test_viewers_see_no_buttons_and_are_refused_on_post(client, viewer, synced):
    client.force_login(viewer)
    build = Build.objects.first()
    page = client.get(reverse("build", args=["semaphore", synced.slug, build.external_id]))
    assert b'class="actions"' not in page.content
    response = client.post(action_url(synced, "stop_pipeline", "build", build.external_id), {"confirm": "yes"})
    assert response.status_code == 403
    assert not ActionLog.objects.exists()


def test_posts_without_the_csrf_token_are_refused(operator, synced):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(operator)
    build = Build.objects.first()
    assert strict.post(action_url(synced, "rerun_workflow", "build", build.external_id)).status_code == 403


def test_an_operator_runs_a_workflow_and_lands_on_its_build(operator_client, synced, semaphore_sim):
    project = Project.objects.first()
    page = operator_client.get(reverse("project", args=["semaphore", synced.slug, project.external_id]))
    assert b'data-action="run_workflow"' in page.content

    response = operator_client.post(
        action_url(synced, "run_workflow", "project", project.external_id),
        {"reference": "feature/x", "pipeline_file": ".semaphore/semaphore.yml"},
    )

    assert response.status_code == 302
    new = Build.objects.get(branch="feature/x")
    assert response["Location"] == reverse("build", args=["semaphore", synced.slug, new.external_id])
    entry = ActionLog.objects.get(action="run_workflow")
    assert entry.ok and entry.username == "otto" and entry.params["reference"] == "refs/heads/feature/x"


def test_a_bad_commit_sha_is_refused_before_anything_is_sent(operator_client, synced, semaphore_sim):
    project = Project.objects.first()
    before = len(semaphore_sim.requests)
    response = operator_client.post(
        action_url(synced, "run_workflow", "project", project.external_id),
        {"reference": "main", "commit_sha": "not-a-sha"},
    )
    assert response.status_code == 400
    assert b"7 to 40 hexadecimal" in response.content
    assert len(semaphore_sim.requests) == before


def test_a_double_clicked_rerun_starts_one_workflow(operator_client, synced, semaphore_sim):
    build = Build.objects.filter(state__in=["passed", "failed"]).first()
    page = operator_client.get(reverse("build", args=["semaphore", synced.slug, build.external_id]))
    token = re.search(rb'name="request_token" value="([^"]+)"', page.content).group(1).decode()
    workflows = len(semaphore_sim.workflows)

    url = action_url(synced, "rerun_workflow", "build", build.external_id)
    first = operator_client.post(url, {"request_token": token})
    second = operator_client.post(url, {"request_token": token})

    assert len(semaphore_sim.workflows) == workflows + 1
    assert first["Location"] == second["Location"]


def test_stopping_a_pipeline_asks_first_then_stops_its_jobs(operator_client, synced, semaphore_sim, clock):
    build = running_build(semaphore_sim, clock, synced)
    url = action_url(synced, "stop_pipeline", "build", build.external_id)

    confirm = operator_client.get(url)
    assert b"cannot be undone" in confirm.content and b'name="confirm" value="yes"' in confirm.content
    assert operator_client.post(url).status_code == 400  # no confirmation, nothing sent

    response = operator_client.post(url, {"confirm": "yes"})
    assert response.status_code == 302
    clock.advance(3)
    sync_connection(synced.pk)
    build.refresh_from_db()
    assert build.state == "canceled" and build.raw_state == "done/stopped"
    assert all(j.state in ("canceled", "passed", "failed") for j in build.jobs.all())
    assert build.jobs.filter(state="canceled").exists()


def test_stopping_a_workflow_stops_its_running_pipelines(operator_client, synced, semaphore_sim, clock):
    build = running_build(semaphore_sim, clock, synced)
    operator_client.post(action_url(synced, "stop_workflow", "build", build.external_id), {"confirm": "yes"})
    clock.advance(3)
    sync_connection(synced.pk)
    build.refresh_from_db()
    assert build.state == "canceled"
    assert "Termination started for 1 pipelines." in ActionLog.objects.get(action="stop_workflow").answer


def test_promoting_a_failed_pipeline_needs_an_explicit_override(operator_client, synced, semaphore_sim):
    failed = Build.objects.filter(state="failed").first()
    url = action_url(synced, "promote", "build", failed.external_id)

    refused = operator_client.post(url, {"name": "Production"})
    assert refused.status_code == 400 and b"Tick override" in refused.content

    done = operator_client.post(url, {"name": "Production", "override": "on", "parameters": "REASON=hotfix"})
    assert done.status_code == 302
    panel = reverse("panel", args=["semaphore", synced.slug, "build_panel", "build", failed.external_id])
    page = operator_client.get(reverse("build", args=["semaphore", synced.slug, failed.external_id]))
    assert f'hx-get="{panel}"'.encode() in page.content  # the promotions load after the page
    promotions = operator_client.get(panel)
    assert b"Production" in promotions.content and b'id="promotions"' in promotions.content
    entry = ActionLog.objects.get(action="promote")
    assert entry.params["override"] is True and entry.params["parameters"] == {"REASON": "hotfix"}


def test_an_unknown_promotion_shows_semaphores_words_and_keeps_the_input(operator_client, synced):
    passed = Build.objects.filter(state="passed").first()
    response = operator_client.post(
        action_url(synced, "promote", "build", passed.external_id), {"name": "Moon", "parameters": "A=1"}
    )
    assert response.status_code == 422
    assert b"is not defined in the pipeline" in response.content
    assert b"A=1" in response.content  # what the user typed is still there
    assert ActionLog.objects.get(action="promote").ok is False


def test_yaml_validation_gives_semaphores_verdict(operator_client, synced):
    url = action_url(synced, "validate_yaml", "connection")
    good = "version: v1.0\nname: CI\nagent:\n  machine:\n    type: e1-standard-2\nblocks:\n  - name: Test\n"
    response = operator_client.post(url, {"yaml_definition": good}, follow=True)
    assert b"YAML definition is valid." in response.content

    bad = "version: v1.0\nblocks: [\n"
    response = operator_client.post(url, {"yaml_definition": bad})
    assert response.status_code == 422 and b"Invalid YAML" in response.content
    assert b"blocks: [" in response.content


def test_the_job_page_shows_the_jobs_spec(operator_client, synced):
    job = Job.objects.filter(state="passed").first()
    page = operator_client.get(reverse("job", args=["semaphore", synced.slug, job.external_id])).content.decode()
    assert "e1-standard-2" in page and "ubuntu2004" in page
    assert "DOCKERHUB_USERNAME" in page and "SEMAPHORE_PIPELINE_ID" in page
    assert "echo &#x27;Job finished&#x27;" in page and "Epilogue always" in page


def test_the_debug_ssh_key_is_shown_once_and_kept_nowhere(operator_client, synced, semaphore_sim, clock):
    job = running_job(semaphore_sim, clock, synced)
    response = operator_client.post(action_url(synced, "ssh_key", "job", job.external_id))
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    key = re.search(rb'<pre class="secret">([^<]+)</pre>', response.content).group(1).decode()
    assert "PRIVATE KEY" in key
    entry = ActionLog.objects.get(action="ssh_key")
    assert "PRIVATE KEY" not in entry.answer and "PRIVATE KEY" not in str(entry.params)
    assert not Job.objects.filter(raw__icontains="PRIVATE KEY").exists()


def test_a_finished_jobs_key_is_refused_in_words(operator, synced):
    from providers.base.errors import Rejected
    from providers.semaphore.adapter import SemaphoreAdapter

    job = Job.objects.filter(state="passed").first()
    adapter = SemaphoreAdapter(synced)
    with pytest.raises(Rejected, match="only for running jobs"):
        adapter.perform(adapter.action("ssh_key"), job, {}, operator)


def test_debug_sessions_start_for_a_job_and_a_project(operator_client, synced, semaphore_sim):
    job = Job.objects.first()
    response = operator_client.post(
        action_url(synced, "debug_job", "job", job.external_id), {"minutes": 15}, follow=True
    )
    assert b"Debug session" in response.content and b"sem debug job" in response.content
    debug = [j for _, j in semaphore_sim.jobs.values() if j.debug_of == job.external_id]
    assert len(debug) == 1 and debug[0].duration == 900

    project = Project.objects.first()
    response = operator_client.post(
        action_url(synced, "project_debug", "project", project.external_id),
        {"minutes": 5, "machine_type": "e1-standard-4"},
        follow=True,
    )
    assert b"e1-standard-4" in response.content


def test_creating_a_job_on_a_self_hosted_type_is_refused_by_the_form(operator_client, synced):
    project = Project.objects.first()
    response = operator_client.post(
        action_url(synced, "create_job", "project", project.external_id),
        {"name": "x", "machine_type": "s1-big", "commands": "make", "execution_time_limit": 3600},
    )
    assert response.status_code == 400 and b"self-hosted" in response.content


@pytest.mark.parametrize("jobs_v2, expected", [(True, "v2"), (False, "v1alpha")])
def test_the_jobs_api_is_detected_per_connection(db, clock, jobs_v2, expected):
    from providers.semaphore.adapter import SemaphoreAdapter
    from providers.semaphore.sim import SemaphoreSimulator
    from tests.conftest import make_connection

    sim = SemaphoreSimulator("t", seed=2, clock=clock, jobs_v2=jobs_v2).serve()
    try:
        connection = make_connection(sim, slug=f"detect-{expected}")
        adapter = SemaphoreAdapter(connection)
        assert adapter.jobs_api == expected
        sync_connection(connection.pk)
        job = Job.objects.filter(connection=connection, state="passed").first()
        assert ("timeline" in job.raw["job"]["status"]) is (expected == "v2")
        assert job.started_at and job.finished_at and job.started_at < job.finished_at
        connection.options = {"jobs_api": "v1alpha"}
        assert SemaphoreAdapter(connection).jobs_api == "v1alpha"
    finally:
        sim.stop()


def test_a_v2_job_shows_its_time_limit_and_status_timeline(db, clock, operator_client):
    from providers.semaphore.sim import SemaphoreSimulator
    from tests.conftest import make_connection

    sim = SemaphoreSimulator("t", seed=2, clock=clock).serve()
    try:
        connection = make_connection(sim, slug="v2", options={"jobs_api": "v2"})
        sync_connection(connection.pk)
        job = Job.objects.filter(connection=connection, state="passed").first()
        page = operator_client.get(reverse("job", args=["semaphore", "v2", job.external_id])).content.decode()
        assert "Time limit" in page and "3600 s" in page
        assert "enqueued" in page and "scheduled" in page
    finally:
        sim.stop()


def test_the_v1alpha_jobs_list_refuses_big_pages_and_pages_by_token(clock):
    from providers.base.errors import Rejected
    from providers.base.sim import Scale
    from providers.semaphore.client import SemaphoreClient
    from providers.semaphore.sim import SemaphoreSimulator

    semaphore_sim = SemaphoreSimulator("t", seed=4, clock=clock, scale=Scale(projects=2, builds=12, jobs=3)).serve()
    with semaphore_sim.stop_after(), SemaphoreClient(semaphore_sim.url, semaphore_sim.token) as api:
        with pytest.raises(Rejected, match="Page size can't exceed 30"):
            api.get_json("/api/v1alpha/jobs", params={"states": "FINISHED", "page_size": 31})
        assert api.get_json("/api/v1alpha/jobs", params={})["jobs"] == []  # no states, no jobs
        finished = api.jobs(("FINISHED",))
    assert len(finished) == len({j["metadata"]["id"] for j in finished}) > 30


def test_the_v2_jobs_list_pages_with_tokens_and_answers_422_in_jsonapi_style(semaphore_sim):
    import httpx

    from providers.semaphore.client import SemaphoreClient

    with SemaphoreClient(semaphore_sim.url, semaphore_sim.token) as api:
        everything = api.jobs_v2(limit=10_000)
        assert len(everything) == len(semaphore_sim.all_jobs())
        assert len({j["metadata"]["id"] for j in everything}) == len(everything)
    bad = httpx.get(
        f"{semaphore_sim.url}/api/v2/jobs?page_size=500", headers={"Authorization": f"Token {semaphore_sim.token}"}
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["source"] == {"pointer": "/page_size"}
    missing = httpx.get(
        f"{semaphore_sim.url}/api/v2/jobs/nope", headers={"Authorization": f"Token {semaphore_sim.token}"}
    )
    assert missing.status_code == 404 and missing.json() == {"message": "Not found", "documentation_url": None}


def test_pages_do_not_wait_for_the_provider(viewer_client, synced, semaphore_sim):
    build = Build.objects.first()
    before = len(semaphore_sim.requests)
    for url in (
        reverse("build", args=["semaphore", synced.slug, build.external_id]),
        reverse("connection", args=["semaphore", synced.slug]),
        reverse("project", args=["semaphore", synced.slug, build.project.external_id]),
    ):
        assert viewer_client.get(url).status_code == 200
    assert len(semaphore_sim.requests) == before


def test_an_unreachable_provider_shows_in_the_panel_in_words(viewer_client, synced):
    build = Build.objects.first()
    synced.base_url = "http://127.0.0.1:9"
    synced.save()
    response = viewer_client.get(
        reverse("panel", args=["semaphore", synced.slug, "build_panel", "build", build.external_id])
    )
    assert response.status_code == 200 and b"could not be asked: unreachable" in response.content
    assert b"127.0.0.1:9" not in response.content  # what the client said is for admins


@pytest.mark.skipif(not settings.REDIS_URL, reason="counted on the Redis server the cache uses")
def test_a_sync_asks_the_cache_for_the_jobs_api_once(db, semaphore_sim):
    """Every job's detail needs the jobs API: the sync holds the cache's answer rather than
    asking Redis (a round trip) once per job."""
    import redis

    from tests.conftest import make_connection

    connection = make_connection(semaphore_sim, slug="asks-once")
    server = redis.Redis.from_url(settings.REDIS_URL)

    def reads() -> int:
        return server.info("commandstats").get("cmdstat_get", {}).get("calls", 0)

    before = reads()
    sync_connection(connection.pk)
    asked = reads() - before
    server.close()
    described = Job.objects.filter(connection=connection).count()
    # A few reads of the sync's own besides; once per job would be at least as many as the jobs.
    assert described >= 6 and asked < described, f"{asked} cache reads for {described} jobs"
