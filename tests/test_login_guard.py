"""Guessing does not pay: lockouts on the login page and the API, API throttling, and
personal API tokens instead of passwords in scripts."""

import base64

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

from dashboard.models import ApiToken


def basic(username: str, password: str) -> dict:
    value = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {value}"}


def bearer(secret: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def log_in(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_the_login_page_locks_a_user_out_until_an_admin_unlocks(viewer, admin_client_, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = log_in(client, "vera", "wrong")
        assert response.status_code == 200 and "didn't match" in response.content.decode()
    locked = log_in(client, "vera", "wrong")
    assert locked.status_code == 429 and "Too many failed logins" in locked.content.decode()
    # The right password does not help while locked out.
    right = log_in(client, "vera", "pw-vera")
    assert right.status_code == 429 and "_auth_user_id" not in client.session

    # An admin unlocks in Django admin.
    attempts = admin_client_.get("/admin/axes/accessattempt/")
    assert attempts.status_code == 200 and "vera" in attempts.content.decode()
    AccessAttempt.objects.filter(username="vera").delete()
    client.logout()
    assert log_in(client, "vera", "pw-vera").status_code == 302


def test_a_lockout_is_per_user_name_and_address(client, viewer, operator, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "vera", "wrong")
    assert log_in(client, "otto", "pw-otto").status_code == 302
    other_address = client.post(reverse("login"), {"username": "vera", "password": "pw-vera"}, REMOTE_ADDR="127.0.0.9")
    assert other_address.status_code == 302


def test_basic_auth_is_off_unless_enabled(client, viewer):
    assert client.get(reverse("api-builds"), **basic("vera", "pw-vera")).status_code == 401


def test_basic_auth_when_enabled_is_locked_out_after_repeated_failures(client, viewer, settings):
    settings.API_BASIC_AUTH = True
    assert client.get(reverse("api-builds"), **basic("vera", "pw-vera")).status_code == 200
    for _ in range(30):
        client.get(reverse("api-builds"), **basic("vera", "wrong"))
    response = client.get(reverse("api-builds"), **basic("vera", "pw-vera"))
    assert response.status_code == 429 and "Too many failed logins" in response.json()["detail"]


def test_a_person_makes_a_token_sees_it_once_and_scripts_use_it(client, viewer):
    client.force_login(viewer)
    made = client.post(reverse("api-tokens"), {"name": "nightly report"})
    assert made.status_code == 200 and "no-store" in made["Cache-Control"]
    secret = made.context["new_secret"]
    assert secret.startswith("cid_") and secret in made.content.decode()
    assert secret not in client.get(reverse("api-tokens")).content.decode()
    stored = ApiToken.objects.get()
    assert stored.digest != secret and secret not in str(ApiToken.objects.values().get())

    script = type(client)()
    response = script.get(reverse("api-builds"), **bearer(secret))
    assert response.status_code == 200
    stored.refresh_from_db()
    assert stored.last_used_at is not None

    client.post(reverse("api-token-revoke", args=[stored.pk]))
    assert not ApiToken.objects.exists()
    refused = script.get(reverse("api-builds"), **bearer(secret))
    assert refused.status_code == 401 and refused["WWW-Authenticate"].startswith("Bearer")


def test_a_token_acts_with_its_owners_role(client, viewer, semaphore):
    _token, secret = ApiToken.issue(viewer, "script")
    build_action = reverse("api-action", args=["semaphore", semaphore.slug, "validate_yaml", "connection", "-"])
    response = client.post(build_action, {"yaml_definition": "x"}, content_type="application/json", **bearer(secret))
    assert response.status_code == 403


def test_nobody_revokes_someone_elses_token(client, viewer, operator):
    token, _ = ApiToken.issue(viewer, "vera's")
    client.force_login(operator)
    assert client.post(reverse("api-token-revoke", args=[token.pk])).status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_guessing_tokens_locks_the_address_out(client, viewer, settings):
    _token, secret = ApiToken.issue(viewer, "script")
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.get(reverse("api-builds"), **bearer(f"cid_guess{n}")).status_code == 401
    assert client.get(reverse("api-builds"), **bearer("cid_one_more")).status_code == 429
    response = client.get(reverse("api-builds"), **bearer(secret))
    assert response.status_code == 429 and "Too many failed logins" in response.json()["detail"]


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer not-ours"])
def test_malformed_tokens_are_refused_in_words(client, db, header):
    response = client.get(reverse("api-builds"), HTTP_AUTHORIZATION=header)
    assert response.status_code == 401 and response.json()["detail"]


def test_the_api_is_throttled_per_user(client, viewer, settings):
    settings.API_THROTTLE_RATES = {"anon": "100/minute", "user": "3/minute"}
    client.force_login(viewer)
    codes = [client.get(reverse("api-connections")).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_anonymous_api_calls_are_throttled(client, db, settings):
    settings.API_THROTTLE_RATES = {"anon": "2/minute", "user": "100/minute"}
    codes = [client.get(reverse("api-schema")).status_code for _ in range(3)]
    assert codes[-1] == 429
