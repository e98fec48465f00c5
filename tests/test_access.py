import pytest
from django.urls import reverse

from dashboard.sync import sync_connection


@pytest.fixture
def synced(semaphore):
    sync_connection(semaphore.pk)
    return semaphore


def page_urls(connection) -> list[str]:
    build = connection.build_set.order_by("-created_at").first()
    job = build.jobs.first()
    args = [connection.kind, connection.slug]
    return [
        reverse("builds"),
        reverse("connections"),
        reverse("build", args=[*args, build.external_id]),
        reverse("job", args=[*args, job.external_id]),
        reverse("job-log-tail", args=[*args, job.external_id]),
        reverse("job-log-raw", args=[*args, job.external_id]),
        reverse("connection", args=args),
        reverse("project", args=[*args, build.project.external_id]),
        reverse("pipeline", args=[*args, build.pipeline.external_id]),
        reverse("action", args=[*args, "stop_pipeline", "build", build.external_id]),
        reverse("panel", args=[*args, "build_panel", "build", build.external_id]),
    ]


def api_urls(connection) -> list[str]:
    build = connection.build_set.first()
    job = build.jobs.first()
    args = [connection.kind, connection.slug]
    return [
        reverse("api-builds"),
        reverse("api-connections"),
        reverse("api-schema"),
        reverse("api-build", args=[*args, build.external_id]),
        reverse("api-job", args=[*args, job.external_id]),
        reverse("api-job-log", args=[*args, job.external_id]),
        reverse("api-agents"),
        reverse("api-agent-types"),
        reverse("api-deployments"),
        reverse("api-deployment-targets"),
        reverse("api-retention-policies"),
        reverse("api-action-log"),
    ]


def test_anonymous_visitors_are_sent_to_log_in_from_every_page(client, synced):
    for url in page_urls(synced):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_anonymous_api_calls_are_refused(client, synced):
    for url in api_urls(synced):
        assert client.get(url).status_code in (401, 403), url
    build = synced.build_set.first()
    action = reverse("api-action", args=["semaphore", synced.slug, "stop_pipeline", "build", build.external_id])
    assert client.post(action, {"confirm": True}, content_type="application/json").status_code in (401, 403)


def test_admin_needs_staff(viewer_client):
    response = viewer_client.get("/admin/")
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_the_token_appears_on_no_page_and_no_api_body(admin_client_, synced):
    token = synced.token
    urls = [
        *page_urls(synced),
        *api_urls(synced),
        "/admin/dashboard/connection/",
        f"/admin/dashboard/connection/{synced.pk}/change/",
    ]
    for url in urls:
        response = admin_client_.get(url)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert token.encode() not in body, url


def test_the_token_is_encrypted_in_the_database(synced):
    from django.db import connection as db

    with db.cursor() as cursor:
        cursor.execute("SELECT token FROM dashboard_connection WHERE id = %s", [synced.pk])
        stored = cursor.fetchone()[0]
    assert synced.token not in stored
    assert stored.startswith("gAAAA")  # a Fernet token


def test_anonymous_permalinks_reveal_nothing_about_what_exists(client, synced):
    """A guessed link answers like any other: the login page, with the site's own title."""
    build = synced.build_set.first()
    real = reverse("build", args=["semaphore", synced.slug, build.external_id])
    guesses = [
        reverse("build", args=["semaphore", synced.slug, "no-such-build"]),
        reverse("build", args=["semaphore", "no-such-connection", build.external_id]),
        reverse("job", args=["semaphore", synced.slug, build.jobs.first().external_id]),
    ]
    for url in [real, *guesses]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), url
        page = client.get(response["Location"]).content.decode()
        assert 'property="og:title" content="CI dashboard"' in page
        assert build.title not in page and build.commit_sha not in page
