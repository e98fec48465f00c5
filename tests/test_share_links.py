"""Share links: an operator shares one build or job through an opaque link that expires
and can be revoked; nothing else is visible without a login."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dashboard.models import Build, ShareLink
from dashboard.sync import sync_connection


@pytest.fixture
def build(semaphore):
    sync_connection(semaphore.pk)
    return Build.objects.filter(connection=semaphore, state="failed").first()


def make_link(operator_client, build, target="build", obj=None, expires="24"):
    obj = obj or build
    url = reverse("share-create", args=[build.connection.kind, build.connection.slug, target, obj.external_id])
    response = operator_client.post(url, {"expires_in": expires})
    assert response.status_code == 200
    return response.context["share_url"], response


def test_an_operator_shares_a_build_and_anyone_with_the_link_sees_its_summary(operator_client, build):
    share_url, made = make_link(operator_client, build)
    assert "no-store" in made["Cache-Control"]
    assert re.fullmatch(r"http://testserver/s/[A-Za-z0-9_-]{40,}", share_url)
    assert build.external_id not in share_url and build.connection.slug not in share_url
    # Only a digest is stored.
    secret = share_url.rsplit("/", 1)[1]
    assert not ShareLink.objects.filter(digest=secret).exists() and ShareLink.objects.get().prefix == secret[:8]

    anonymous = Client()
    page = anonymous.get(share_url)
    html = page.content.decode()
    assert page.status_code == 200 and page["X-Robots-Tag"].startswith("noindex")
    assert page["Referrer-Policy"] == "no-referrer"
    assert f'property="og:title" content="✗ failed: {build.title}"' in html
    assert build.branch in html and build.jobs.first().name in html
    assert build.connection.token not in html and build.connection.base_url not in html
    assert "<form" not in html  # read-only


def test_a_shared_job_shows_the_end_of_its_log(operator_client, build):
    job = build.jobs.first()
    from dashboard import logstore

    log = logstore.log_for(job)
    logstore.append(log, "first line\n\x1b]8;;https://evil.example\x07last line\x1b]8;;\x07\n")
    log.save()
    share_url, _ = make_link(operator_client, build, "job", job)
    html = Client().get(share_url).content.decode()
    assert f"{job.name} {job.state}" in html and "last line" in html and "evil.example" not in html


def test_viewers_cannot_share(viewer_client, build):
    url = reverse("share-create", args=[build.connection.kind, build.connection.slug, "build", build.external_id])
    assert viewer_client.post(url, {"expires_in": "24"}).status_code == 403
    assert viewer_client.get(reverse("share-links")).status_code == 403
    assert not ShareLink.objects.exists()


def test_revoked_expired_and_made_up_links_all_answer_the_same(operator_client, build):
    share_url, _ = make_link(operator_client, build)
    anonymous = Client()
    assert anonymous.get(share_url).status_code == 200

    link = ShareLink.objects.get()
    listing = operator_client.get(reverse("share-links")).content.decode()
    assert link.prefix in listing
    operator_client.post(reverse("share-revoke", args=[link.pk]))
    revoked = anonymous.get(share_url)

    expired_url, _ = make_link(operator_client, build)
    ShareLink.objects.filter(revoked_at__isnull=True).update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = anonymous.get(expired_url)
    made_up = anonymous.get(reverse("share", args=["x" * 43]))
    assert revoked.status_code == expired.status_code == made_up.status_code == 404
    assert revoked.content == expired.content == made_up.content
    assert build.title not in revoked.content.decode()


def test_only_the_maker_or_an_admin_revokes_a_link(operator_client, build, django_user_model, admin_user):
    make_link(operator_client, build)
    link = ShareLink.objects.get()
    other = django_user_model.objects.create_user("olga", password="x")
    other.groups.add(*link.created_by.groups.all())
    client = Client()
    client.force_login(other)
    assert client.post(reverse("share-revoke", args=[link.pk])).status_code == 404
    assert link.prefix not in client.get(reverse("share-links")).content.decode()
    client.force_login(admin_user)
    client.post(reverse("share-revoke", args=[link.pk]))
    link.refresh_from_db()
    assert link.revoked_at is not None
