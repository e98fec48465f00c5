"""HTTPS behind a proxy: HSTS, the redirect to https and the proxy's protocol header."""

from django.test import Client
from django.urls import reverse


def production(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


def test_plain_http_is_redirected_to_https_but_the_health_check_is_not(db, settings):
    production(settings)
    client = Client()
    response = client.get(reverse("login"))
    assert response.status_code == 301 and response["Location"].startswith("https://")
    assert client.get(reverse("healthz") + "?checks=database").status_code == 200


def test_https_through_the_proxy_gets_hsts_and_safe_headers(db, settings):
    production(settings)
    response = Client().get(reverse("login"), HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_the_proxy_header_is_ignored_unless_trusted(db, settings):
    production(settings)
    settings.SECURE_PROXY_SSL_HEADER = None
    response = Client().get(reverse("login"), HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 301
