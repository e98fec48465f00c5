"""In Chromium: a person makes an API token and a script uses it; an operator shares a
build and a visitor without a login opens the link; repeated wrong passwords lock out."""

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from dashboard.models import Build
from dashboard.sync import sync_connection

from .test_builds_flow import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_token_made_on_the_page_works_for_a_script_until_revoked(page: Page, live_server, viewer):
    log_in(page, live_server.url, "vera", "pw-vera")
    page.click("text=API tokens")
    page.fill("input[name=name]", "nightly report")
    page.click("button:has-text('Make token')")
    secret = page.locator("#new-token").inner_text()
    assert secret.startswith("cid_")
    answer = httpx.get(f"{live_server.url}/api/connections/", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200

    page.goto(f"{live_server.url}/account/api-tokens/")
    expect(page.locator("#new-token")).to_have_count(0)  # shown once
    page.click("button:has-text('Revoke')")
    expect(page.locator(".messages")).to_contain_text("is revoked")
    answer = httpx.get(f"{live_server.url}/api/connections/", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 401


def test_an_operator_shares_a_build_and_a_visitor_opens_it(page: Page, live_server, semaphore, operator, browser):
    sync_connection(semaphore.pk)
    build = Build.objects.filter(connection=semaphore).first()
    log_in(page, live_server.url, "otto", "pw-otto")
    page.goto(f"{live_server.url}/semaphore/{semaphore.slug}/build/{build.external_id}")
    page.click("text=Share link…")
    page.select_option("select[name=expires_in]", "1")
    page.click("button:has-text('Make share link')")
    share_url = page.locator("#share-url").inner_text()
    assert re.fullmatch(rf"{re.escape(live_server.url)}/s/[\w-]+", share_url)

    visitor = browser.new_context()
    shared = visitor.new_page()
    shared.goto(share_url)
    expect(shared.locator("h1")).to_contain_text(build.title or build.external_id)
    expect(shared.locator("text=Log in")).to_have_count(0)
    visitor.close()


def test_repeated_wrong_passwords_lock_the_login(page: Page, live_server, viewer, settings):
    def attempt(password: str) -> None:
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", "vera")
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")

    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt("wrong")
    expect(page.locator("h1")).to_contain_text("Too many failed logins")
    attempt("pw-vera")  # the right password, too late
    expect(page.locator("h1")).to_contain_text("Too many failed logins")
    expect(page.locator("[role=alert]")).to_contain_text("for vera")
