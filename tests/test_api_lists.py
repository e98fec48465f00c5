"""The API's lists: the root that names them, their filters, the job and sync-run lists,
the fields the pages show, and log windows."""

import pytest
from django.urls import reverse

from dashboard.models import Build, Job, Log, SyncRun
from dashboard.sync import sync_connection


@pytest.fixture
def synced(semaphore):
    sync_connection(semaphore.pk)
    return semaphore


def test_the_root_lists_every_list_endpoint(viewer_client, synced):
    body = viewer_client.get("/api/").json()
    for name in ("builds", "jobs", "sync-runs", "agents", "agent-types", "deployments", "action-log", "providers"):
        assert body[name].startswith("http://testserver/api/")
    assert "schedules" not in body, "Semaphore alone has no schedules: their list does not exist"
    assert body["docs"].endswith("/api/docs/") and body["schema"].endswith("/api/schema/")
    for url in body.values():
        assert viewer_client.get(url).status_code == 200, url


def test_the_root_asks_for_a_login(client, db):
    assert client.get("/api/").status_code in (401, 403)


def test_jobs_list_across_builds_with_filters(viewer_client, synced):
    every = viewer_client.get(reverse("api-jobs"), {"page_size": 200}).json()["results"]
    assert len(every) == Job.objects.count()
    first = every[0]
    shown = {"provider", "connection", "build", "allowed_failure", "duration", "group", "depends_on", "exit_code"}
    assert shown <= set(first)
    build = Build.objects.get(external_id=first["build"])
    assert first["build_url"] == reverse("api-build", args=["semaphore", "acme", build.external_id])

    of_build = viewer_client.get(reverse("api-jobs"), {"build": build.external_id}).json()["results"]
    assert {j["external_id"] for j in of_build} == set(build.jobs.values_list("external_id", flat=True))

    state = first["state"]
    by_state = viewer_client.get(reverse("api-jobs"), {"state": state, "page_size": 200}).json()["results"]
    assert by_state and {j["state"] for j in by_state} == {state}
    assert len(by_state) == Job.objects.filter(state=state).count()


def test_a_job_duration_is_its_seconds(viewer_client, synced):
    job = Job.objects.exclude(started_at=None).exclude(finished_at=None).first()
    body = viewer_client.get(reverse("api-job", args=["semaphore", "acme", job.external_id])).json()
    assert body["duration"] == pytest.approx((job.finished_at - job.started_at).total_seconds())
    assert body["allowed_failure"] is job.allowed_failure and body["raw_state"] == job.raw_state


def test_time_ranges_filter_and_bad_values_are_named(viewer_client, synced):
    builds = list(Build.objects.order_by("created_at"))
    middle = builds[len(builds) // 2].created_at
    after = viewer_client.get(reverse("api-builds"), {"created_after": middle.isoformat(), "page_size": 200}).json()
    assert {b["external_id"] for b in after["results"]} == {b.external_id for b in builds if b.created_at >= middle}

    bad = viewer_client.get(reverse("api-builds"), {"created_after": "yesterday-ish"})
    assert bad.status_code == 400 and "created" in bad.json()
    # Offsets Python takes but PostgreSQL would not, and a time past the calendar in UTC.
    far = viewer_client.get(reverse("api-agents"), {"connected_after": "9930-04-12T21:53:09.53-20:19"})
    assert far.status_code == 200 and far.json() == []
    beyond = viewer_client.get(reverse("api-agents"), {"connected_after": "9999-12-31T23:59:00-20:00"})
    assert beyond.status_code == 400 and "out of range" in str(beyond.json())
    unknown = viewer_client.get(reverse("api-jobs"), {"provider": "travis"})
    assert unknown.status_code == 400 and "provider" in unknown.json()


def test_builds_filter_by_pipeline(viewer_client, synced):
    build = Build.objects.exclude(pipeline=None).select_related("pipeline").first()
    results = viewer_client.get(reverse("api-builds"), {"pipeline": build.pipeline.name, "page_size": 200}).json()
    expected = set(Build.objects.filter(pipeline__name=build.pipeline.name).values_list("external_id", flat=True))
    assert {b["external_id"] for b in results["results"]} == expected


def test_sync_runs_list_each_sync(viewer_client, synced):
    Build.objects.filter(connection=synced).order_by("-created_at").first().delete()
    synced.refresh_from_db()
    synced.sync_cursor = {}  # the next sync reads the history again and finds that build: not a quiet sync
    synced.save()
    sync_connection(synced.pk)
    runs = viewer_client.get(reverse("api-sync-runs"), {"connection": "acme"}).json()["results"]
    assert len(runs) == 2 == SyncRun.objects.count()
    assert runs[0]["provider"] == "semaphore" and runs[0]["status"] == "ok" and runs[0]["requests"] > 0
    failed = viewer_client.get(reverse("api-sync-runs"), {"status": "failed"}).json()["results"]
    assert failed == []


def test_deployment_history_filters(viewer_client, synced):
    from dashboard.models import Deployment

    deployments = list(Deployment.objects.select_related("target"))
    if not deployments:
        pytest.skip("the simulator world has no deployments at this seed")
    target = deployments[0].target
    rows = viewer_client.get(reverse("api-deployments"), {"target": target.name, "page_size": 500}).json()["results"]
    assert rows and {r["target"] for r in rows} == {target.name}
    assert {r["provider"] for r in rows} == {"semaphore"}
    times = [r["triggered_at"] for r in rows if r["triggered_at"]]
    assert times == sorted(times, reverse=True)

    every = viewer_client.get(reverse("api-deployments"), {"page_size": 500}).json()["results"]
    paged, page = [], viewer_client.get(reverse("api-deployments"), {"page_size": 2}).json()
    while True:
        paged += page["results"]
        if not page["next"]:
            break
        page = viewer_client.get(page["next"]).json()
    assert [r["external_id"] for r in paged] == [r["external_id"] for r in every]


def test_agent_types_count_their_agents(viewer_client, synced):
    from dashboard.models import Agent, AgentType

    for row in viewer_client.get(reverse("api-agent-types")).json():
        agent_type = AgentType.objects.get(name=row["name"])
        assert row["connected"] == Agent.objects.filter(agent_type=agent_type).count()


def _a_finished_job_with_a_log(client) -> Job:
    job = Job.objects.filter(state__in=["passed", "failed"]).select_related("connection").first()
    client.get(reverse("api-job-log", args=["semaphore", "acme", job.external_id]))
    assert Log.objects.get(job=job).size > 0
    return job


def test_log_windows_join_into_the_whole_log(viewer_client, synced):
    job = _a_finished_job_with_a_log(viewer_client)
    url = reverse("api-job-log", args=["semaphore", "acme", job.external_id])
    whole = viewer_client.get(url)
    data = b"".join(whole.streaming_content)
    assert int(whole["X-Log-Size"]) == len(data)

    pieces, offset = [], 0
    while True:
        window = viewer_client.get(url, {"offset": offset, "limit": 7})
        assert window.status_code == 200 and int(window["X-Log-Offset"]) == offset
        if not window.content:
            break
        assert len(window.content) <= 7
        pieces.append(window.content)
        offset = int(window["X-Log-Next-Offset"])
    assert b"".join(pieces) == data
    assert window["X-Log-Complete"] == "true"


def test_log_window_parameters_are_checked(viewer_client, synced):
    job = _a_finished_job_with_a_log(viewer_client)
    url = reverse("api-job-log", args=["semaphore", "acme", job.external_id])
    for params, name in (({"offset": -1}, "offset"), ({"limit": 0}, "limit"), ({"limit": 10**9}, "limit")):
        response = viewer_client.get(url, params)
        assert response.status_code == 400 and name in response.json()
    past_the_end = viewer_client.get(url, {"offset": 10**9, "limit": 10})
    assert past_the_end.status_code == 200 and past_the_end.content == b""


def test_lists_name_their_provider_and_connection(viewer_client, synced):
    for name in ("api-agents", "api-deployment-targets", "api-retention-policies"):
        rows = viewer_client.get(reverse(name), {"connection": "acme"}).json()
        for row in rows:
            assert row["provider"] == "semaphore" and row["connection"] == "acme"
        none = viewer_client.get(reverse(name), {"provider": "harmont"}).json()
        assert none == []


def test_a_build_names_its_duration(viewer_client, synced):
    build = Build.objects.exclude(started_at=None).exclude(finished_at=None).first()
    body = viewer_client.get(reverse("api-build", args=["semaphore", "acme", build.external_id])).json()
    assert body["duration"] == pytest.approx((build.finished_at - build.started_at).total_seconds())
    assert isinstance(body["jobs"][0]["duration"], float | None)


def test_connections_count_their_active_builds(viewer_client, synced):
    from dashboard.states import ACTIVE

    row = viewer_client.get(reverse("api-connections")).json()[0]
    assert row["active_builds"] == Build.objects.filter(state__in=ACTIVE).count()
    assert "token" not in row
