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


def test_link_previews_are_off_unless_asked_for(client, synced, settings):
    build = synced.build_set.filter(state="failed").first()
    url = reverse("build", args=["semaphore", synced.slug, build.external_id])
    assert client.get(url).status_code == 302

    settings.PUBLIC_LINK_PREVIEWS = True
    preview = client.get(url)
    html = preview.content.decode()
    assert preview.status_code == 200 and preview["X-Robots-Tag"].startswith("noindex")
    assert f'property="og:title" content="✗ failed: {build.title}"' in html
    assert build.branch in html and "Log in to see it" in html
    assert build.commit_message not in html.replace(build.title, "")  # nothing beyond the summary
    job = build.jobs.first()
    job_preview = client.get(reverse("job", args=["semaphore", synced.slug, job.external_id])).content.decode()
    assert f"{job.name} {job.state}" in job_preview and 'class="log"' not in job_preview
    assert synced.token not in html + job_preview
