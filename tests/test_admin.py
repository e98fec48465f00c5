"""Connections in Django admin: tokens write-only, bad input refused in words, a save
that tests the connection, the Test connection button and the two admin actions."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from dashboard.models import Connection
from providers.base.sim import Faults

ADD = "/admin/dashboard/connection/add/"


def form(**overrides) -> dict:
    data = {
        "kind": "semaphore",
        "name": "Acme",
        "slug": "acme2",
        "base_url": "http://127.0.0.1:9",  # nothing listens: a save's test says "unreachable"
        "token": "tok-123",
        "options": "{}",
        "sync_interval": 60,
        "enabled": "on",
    }
    data.update(overrides)
    return data


def test_an_admin_adds_a_connection_and_the_token_is_never_shown_again(admin_client_, semaphore_sim):
    response = admin_client_.post(ADD, form(base_url=semaphore_sim.url, token=semaphore_sim.token), follow=True)
    connection = Connection.objects.get(slug="acme2")
    assert connection.token == semaphore_sim.token
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(m.startswith("Connection test:") and "2 project(s) visible" in m for m in said), said
    page = admin_client_.get(reverse("admin:dashboard_connection_change", args=[connection.pk]))
    assert semaphore_sim.token.encode() not in page.content and b"set (hidden)" in page.content


def test_the_change_page_has_one_token_row(admin_client_, semaphore):
    page = admin_client_.get(reverse("admin:dashboard_connection_change", args=[semaphore.pk])).content.decode()
    assert page.lower().count("token:</label>") == 1  # not a second, read-only "token:" row
    assert "Currently: set (hidden)." in page


def test_a_connection_with_a_bad_token_is_saved_and_the_test_says_why(admin_client_, semaphore_sim):
    response = admin_client_.post(ADD, form(base_url=semaphore_sim.url, token="wrong"), follow=True)
    assert Connection.objects.filter(slug="acme2").exists()  # saved all the same
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("bad token" in m for m in said), said


def test_the_change_page_tests_the_connection_with_a_button(admin_client_, semaphore, semaphore_sim):
    change = reverse("admin:dashboard_connection_change", args=[semaphore.pk])
    test = reverse("admin:dashboard_connection_test", args=[semaphore.pk])
    assert f'action="{test}"'.encode() in admin_client_.get(change).content
    assert admin_client_.get(test).status_code == 405  # a test is a POST, like every button
    response = admin_client_.post(test, follow=True)
    assert response.redirect_chain[-1][0] == change
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("2 project(s) visible" in m for m in said), said
    semaphore_sim.faults = Faults(error_rate=1.0)
    said = [str(m) for m in get_messages(admin_client_.post(test, follow=True).wsgi_request)]
    assert any("unreachable" in m or "unexpected" in m for m in said), said


def test_leaving_the_token_blank_keeps_the_old_one(admin_client_, semaphore):
    url = reverse("admin:dashboard_connection_change", args=[semaphore.pk])
    response = admin_client_.post(url, form(slug=semaphore.slug, base_url=semaphore.base_url, token="", name="Renamed"))
    assert response.status_code == 302
    semaphore.refresh_from_db()
    assert semaphore.name == "Renamed" and semaphore.token  # unchanged, still set


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("base_url", "not a url", b"Enter a valid URL"),
        ("base_url", "not-a-host", b"Enter a valid URL"),
        ("base_url", "ftp://ftp.example.com/x", b"must start with http"),
        ("token", "", b"A token is required"),
        ("token", "two words", b"must not contain spaces"),
        ("options", "[1, 2]", b"must be a JSON object"),
        ("options", "{broken", b"Enter a valid JSON"),
        ("sync_interval", "1", b"greater than or equal to 2"),
        ("kind", "gitlab", b"Select a valid choice"),
    ],
)
def test_bad_input_is_a_form_error_not_a_crash(admin_client_, field, value, message):
    response = admin_client_.post(ADD, form(**{field: value}))
    assert response.status_code == 200
    assert message in response.content
    assert not Connection.objects.filter(slug="acme2").exists()


def run_admin_action(client, action: str, connection) -> list[str]:
    response = client.post(
        "/admin/dashboard/connection/", {"action": action, "_selected_action": [connection.pk]}, follow=True
    )
    return [str(m) for m in get_messages(response.wsgi_request)] or [
        m.decode() for m in response.content.split(b'class="success"')[1:2]
    ]


def test_test_connection_says_ok_with_what_it_saw(admin_client_, semaphore):
    messages = run_admin_action(admin_client_, "test_connection", semaphore)
    assert any("ok: 2 project(s) visible" in m for m in messages), messages


def test_test_connection_names_a_bad_token(admin_client_, semaphore):
    semaphore.token = "wrong"
    semaphore.save()
    messages = run_admin_action(admin_client_, "test_connection", semaphore)
    assert any("bad token" in m for m in messages), messages


def test_test_connection_names_an_unreachable_host(admin_client_, db):
    connection = Connection.objects.create(
        kind="semaphore", name="x", slug="x", base_url="http://127.0.0.1:9", token="t"
    )
    messages = run_admin_action(admin_client_, "test_connection", connection)
    assert any("unreachable" in m for m in messages), messages


def test_test_connection_names_an_unexpected_answer(admin_client_, semaphore, semaphore_sim):
    semaphore_sim.faults = Faults(malformed_rate=1.0)
    messages = run_admin_action(admin_client_, "test_connection", semaphore)
    assert any("unexpected answer" in m for m in messages), messages


def test_sync_now_queues_a_sync(admin_client_, semaphore, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from dashboard.celery import app

    app.conf.task_always_eager = True
    try:
        messages = run_admin_action(admin_client_, "sync_now", semaphore)
    finally:
        app.conf.task_always_eager = False
    assert any("Sync queued" in m for m in messages), messages
    assert semaphore.sync_runs.count() == 1
