"""The Content-Security-Policy every page is sent with, templates that need nothing it
forbids, and the styled 403/404/500 pages (an expected 403 logs no traceback)."""

import logging
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import RequestFactory
from django.urls import reverse

from dashboard.sync import sync_connection

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style\b", re.I), "<style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "style= attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "inline event handler"),
    (re.compile(r"\shx-on[:-]", re.I), "hx-on handler"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
    # htmx evaluates these as code, which the policy forbids (htmx-config sets allowEval false).
    (re.compile(r"""\shx-vars\s*=|hx-vals=["']\s*(js|javascript):""", re.I), "evaluated hx-vars/hx-vals"),
]
TRIGGER = re.compile(r"""hx-trigger=(["'])(.*?)\1""", re.I | re.S)


def forbidden(text: str) -> list[str]:
    """What in this HTML or template the policy would block."""
    found = [what for pattern, what in INLINE for _ in pattern.finditer(text)]
    for _, trigger in TRIGGER.findall(text):
        # An event filter ("every 3s [document.visibilityState...]") is evaluated as code;
        # a poll that should pause in a hidden tab carries data-poll instead (static/app.js).
        # CSS selectors after "from:" may hold brackets.
        if "[" in re.sub(r"from:\S+", "", trigger):
            found.append("hx-trigger filter expression")
    return found


def directives(header: str) -> set[str]:
    return {part.strip() for part in header.split(";") if part.strip()}


def test_every_template_is_free_of_inline_script_style_and_handlers():
    problems = []
    for path in sorted(Path(settings.BASE_DIR, "templates").rglob("*.html")):
        problems += [f"{path.relative_to(settings.BASE_DIR)}: {what}" for what in forbidden(path.read_text())]
    assert problems == []


@pytest.fixture
def synced(semaphore):
    sync_connection(semaphore.pk)
    return semaphore


def main_pages(connection) -> list[str]:
    build = connection.build_set.filter(jobs__isnull=False).order_by("-created_at").first()
    args = [connection.kind, connection.slug]
    return [
        reverse("home"),
        reverse("builds"),
        reverse("wall"),
        reverse("connections"),
        reverse("activity"),
        reverse("agents"),
        reverse("deployments"),
        reverse("retention"),
        reverse("connection", args=args),
        reverse("build", args=[*args, build.external_id]),
        reverse("job", args=[*args, build.jobs.first().external_id]),
        reverse("project", args=[*args, build.project.external_id]),
        reverse("pipeline", args=[*args, build.pipeline.external_id]),
    ]


def test_pages_carry_the_policy_and_nothing_inline(admin_client_, synced):
    for url in main_pages(synced):
        response = admin_client_.get(url)
        assert response.status_code == 200, url
        assert directives(response["Content-Security-Policy"]) == directives(POLICY), url
        html = response.content.decode()
        assert forbidden(html) == [], url
        assert '"includeIndicatorStyles": false' in html and '"allowEval": false' in html


def test_a_missing_page_is_a_styled_404_with_the_layout(viewer_client, synced):
    response = viewer_client.get("/semaphore/acme/build/no-such-build")
    html = response.content.decode()
    assert response.status_code == 404
    assert "There is nothing at this address" in html and 'class="top"' in html  # our layout and navigation
    assert reverse("builds") in html and "Content-Security-Policy" in response.headers


def test_an_expected_403_is_styled_and_logs_no_traceback(viewer_client, synced, caplog):
    build = synced.build_set.first()
    url = reverse("action", args=["semaphore", synced.slug, "stop_pipeline", "build", build.external_id])
    with caplog.at_level(logging.WARNING, logger="django.request"):
        # The filter is on the logger as configured in settings; caplog listens beside it.
        response = viewer_client.get(url)
    html = response.content.decode()
    assert response.status_code == 403
    assert "You may not do this" in html and "Only operators may do this." in html and 'class="top"' in html
    records = [r for r in caplog.records if r.name == "django.request"]
    assert records and all(r.exc_info is None and r.exc_text is None for r in records)
    assert "Forbidden" in records[0].getMessage()


def test_the_500_page_uses_the_layout_without_a_request_context(db):
    from django.views.defaults import server_error

    response = server_error(RequestFactory().get("/"))
    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in html and "app.css" in html


def test_the_favicon_is_an_svg_anyone_may_fetch(client, db):
    response = client.get("/favicon.ico")
    assert response.status_code in (301, 302) and response["Location"].endswith("favicon/unknown.svg")
    for state in ("green", "red", "running", "unknown"):
        assert Path(settings.BASE_DIR, "static", "favicon", f"{state}.svg").read_text().startswith("<svg")


def test_a_form_without_a_valid_token_gets_a_styled_page(viewer, synced):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(viewer)
    response = client.post(reverse("logout"))
    assert response.status_code == 403
    html = response.content.decode()
    assert "The form could not be checked" in html and "<style" not in html
