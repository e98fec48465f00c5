import pytest
from django.urls import reverse

from dashboard.models import ActionLog, Build
from dashboard.sync import sync_connection


@pytest.fixture
def synced(semaphore):
    sync_connection(semaphore.pk)
    return semaphore


def action(connection, name, target, external_id="-"):
    return reverse("api-action", args=[connection.kind, connection.slug, name, target, external_id])


def test_the_schema_describes_the_api(viewer_client, synced):
    response = viewer_client.get(reverse("api-schema"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "/api/builds/" in text and "/api/actions/" in text and "/api/deployments/" in text


def test_builds_are_paged_by_cursor(viewer_client, synced):
    first = viewer_client.get(reverse("api-builds"), {"page_size": 3}).json()
    second = viewer_client.get(first["next"]).json()
    ids = [b["external_id"] for b in first["results"] + second["results"]]
    assert len(ids) == len(set(ids)) == 6
    assert ids == list(Build.objects.order_by("-created_at", "-id").values_list("external_id", flat=True)[:6])


def test_builds_filter_like_the_page(viewer_client, synced):
    state = Build.objects.first().state
    results = viewer_client.get(reverse("api-builds"), {"state": state}).json()["results"]
    assert results and {b["state"] for b in results} == {state}


def test_a_viewer_may_not_press_buttons_through_the_api(viewer_client, synced):
    build = Build.objects.first()
    response = viewer_client.post(
        action(synced, "stop_pipeline", "build", build.external_id), {"confirm": True}, content_type="application/json"
    )
    assert response.status_code == 403
    assert not ActionLog.objects.exists()


def test_an_operator_runs_actions_through_the_api(operator_client, synced, semaphore_sim):
    build = Build.objects.filter(state="failed").first()
    bad = operator_client.post(
        action(synced, "promote", "build", build.external_id), {"name": "Production"}, content_type="application/json"
    )
    assert bad.status_code == 400 and "override" in str(bad.json()["errors"])

    good = operator_client.post(
        action(synced, "promote", "build", build.external_id),
        {"name": "Production", "override": True},
        content_type="application/json",
    )
    assert good.status_code == 200 and good.json()["ok"] is True

    refused = operator_client.post(
        action(synced, "promote", "build", build.external_id),
        {"name": "Nowhere", "override": True},
        content_type="application/json",
    )
    assert refused.status_code == 422 and "not defined" in refused.json()["message"]
    assert [e.ok for e in ActionLog.objects.order_by("id")] == [True, False]


def test_destructive_api_actions_need_confirm(operator_client, synced, semaphore_sim, clock):
    clock.advance(31)
    sync_connection(synced.pk)
    build = Build.objects.exclude(state__in=["passed", "failed", "canceled"]).first()
    url = action(synced, "stop_pipeline", "build", build.external_id)
    assert operator_client.post(url, {}, content_type="application/json").status_code == 400
    assert operator_client.post(url, {"confirm": True}, content_type="application/json").status_code == 200


@pytest.mark.parametrize(
    "name",
    [
        "api-agent-types",
        "api-agents",
        "api-deployment-targets",
        "api-deployments",
        "api-retention-policies",
        "api-action-log",
        "api-connections",
    ],
)
def test_read_endpoints_answer(viewer_client, synced, name):
    response = viewer_client.get(reverse(name))
    assert response.status_code == 200
    assert "token" not in response.content.decode().lower() or name == "api-action-log"


def test_the_providers_list_names_capabilities_actions_and_panels(viewer_client, db):
    listed = {p["kind"]: p for p in viewer_client.get(reverse("api-providers")).json()}

    assert set(listed) == {"semaphore", "harmont", "prunner", "jobsplatform"}
    semaphore = listed["semaphore"]
    assert "agents" in semaphore["capabilities"]
    stop = next(a for a in semaphore["actions"] if a["name"] == "stop_pipeline")
    assert stop["target"] == "build" and stop["destructive"] is True
