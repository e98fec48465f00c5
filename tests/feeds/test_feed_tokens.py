"""Feed tokens on the Feeds & badges page and in Django admin: who makes them, shown
once, kept hashed, scoped, revoked."""

import re

from django.urls import reverse

from dashboard.models import FeedToken, Pipeline, Project

PAGE = "/feeds/"


def create(client, **data):
    return client.post(reverse("feed-token-create"), {"name": "office light", **data})


def secret_in(response) -> str:
    match = re.search(rb'id="feed-token">(cif_[^<]+)<', response.content)
    assert match, response.content[:2000]
    return match.group(1).decode()


def test_an_operator_makes_a_token_that_is_shown_once_and_stored_only_hashed(operator_client, synced):
    response = create(operator_client, connection=synced.pk, branch="main")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    secret = secret_in(response)
    assert f"/cctray.xml?token={secret}".encode() in response.content

    token = FeedToken.objects.get()
    assert token.created_by.username == "otto" and token.branch == "main" and token.connection == synced
    stored = FeedToken.objects.values_list("token_hash", "prefix").get()
    assert secret not in "".join(stored) and secret.startswith(stored[1])

    page = operator_client.get(PAGE)
    assert secret.encode() not in page.content and token.prefix.encode() in page.content
    operator_client.logout()
    assert operator_client.get("/cctray.xml", {"token": secret}).status_code == 200


def test_viewers_see_the_page_but_cannot_make_tokens(viewer_client, synced):
    page = viewer_client.get(PAGE)
    assert page.status_code == 200 and b"Operators and admins create feed tokens" in page.content
    assert b"/cctray.xml" in page.content
    assert create(viewer_client, connection=synced.pk).status_code == 403
    assert not FeedToken.objects.exists()


def test_a_scope_that_contradicts_itself_is_refused_in_words(operator_client, synced):
    pipeline = Pipeline.objects.select_related("project").first()
    other_project = Project.objects.exclude(pk=pipeline.project_id).first()
    response = create(operator_client, project=other_project.pk, pipeline=pipeline.pk)
    assert response.status_code == 400
    assert f"is not in project {other_project.name}".encode() in response.content
    assert create(operator_client, name="").status_code == 400
    assert not FeedToken.objects.exists()


def test_picking_a_pipeline_fills_in_its_project_and_connection(operator_client, synced):
    pipeline = Pipeline.objects.select_related("project").first()
    create(operator_client, pipeline=pipeline.pk)
    token = FeedToken.objects.get()
    assert (token.connection, token.project) == (synced, pipeline.project)


def test_revoking_stops_the_token_and_others_cannot_revoke_it(client, operator, admin_user, synced):
    client.force_login(operator)
    secret = secret_in(create(client, connection=synced.pk))
    token = FeedToken.objects.get()

    client.force_login(admin_user)
    assert b"otto" in client.get(PAGE).content  # admins see every token
    from django.contrib.auth.models import Group, User

    other = User.objects.create_user("olga")
    other.groups.add(Group.objects.get(name="operator"))
    client.force_login(other)
    assert token.prefix.encode() not in client.get(PAGE).content
    assert client.post(reverse("feed-token-revoke", args=[token.pk])).status_code == 404

    client.force_login(operator)
    response = client.post(reverse("feed-token-revoke", args=[token.pk]), follow=True)
    assert b"Revoked office light" in response.content
    client.logout()
    assert client.get("/cctray.xml", {"token": secret}).status_code == 401


def test_an_admin_makes_a_token_in_django_admin_and_sees_it_once(admin_client_, synced):
    response = admin_client_.post(
        "/admin/dashboard/feedtoken/add/", {"name": "readme", "connection": synced.pk, "branch": "main"}
    )
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    secret = secret_in(response)
    token = FeedToken.objects.get()
    assert token.created_by.username == "ada"
    change = admin_client_.get(f"/admin/dashboard/feedtoken/{token.pk}/change/")
    assert secret.encode() not in change.content

    admin_client_.post("/admin/dashboard/feedtoken/", {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked_at is not None
