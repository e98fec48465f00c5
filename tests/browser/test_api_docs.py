"""The interactive API docs load in Chromium from our own static files, under a strict
Content-Security-Policy, and try an endpoint with the person's session."""

import re

import pytest
from playwright.sync_api import Page, Route, expect

from dashboard.sync import sync_connection

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What a policy without 'unsafe-inline' or 'unsafe-eval' allows.
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)


def with_strict_csp(route: Route) -> None:
    response = route.fetch(max_redirects=0)
    route.fulfill(response=response, headers={**response.headers, "content-security-policy": STRICT_CSP})


def test_the_api_docs_load_and_try_an_endpoint(page: Page, live_server, semaphore, viewer):
    sync_connection(semaphore.pk)
    outside, problems = [], []
    page.on("request", lambda r: None if r.url.startswith(live_server.url) else outside.append(r.url))
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.route(f"{live_server.url}/**", with_strict_csp)

    page.goto(f"{live_server.url}/api/docs/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.fill("input[name=username]", "vera")
    page.fill("input[name=password]", "pw-vera")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/api/docs/")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("CI dashboard API")
    expect(page.get_by_text("Promote (Semaphore)")).to_be_visible()
    builds = page.locator("#operations-builds-builds_list")
    builds.locator(".opblock-summary").click()
    builds.get_by_role("button", name="Try it out").click()
    builds.get_by_role("button", name="Execute").click()
    expect(builds.locator(".live-responses-table tbody td.response-col_status").first).to_have_text("200")
    expect(builds.locator(".live-responses-table .microlight").first).to_contain_text('"results"')

    assert outside == [], "the docs load nothing from outside the dashboard"
    assert problems == []
