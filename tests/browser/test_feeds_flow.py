"""An operator in Chromium finds a pipeline's badge, makes a feed token (seen once), and a
browser with no login reads the feed and the badge through it until it is revoked."""

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from dashboard.models import Build
from dashboard.sync import sync_connection

from .test_builds_flow import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_makes_a_badge_and_a_token_that_works_until_revoked(
    page: Page, browser: Browser, live_server, semaphore, operator
):
    sync_connection(semaphore.pk)
    build = Build.objects.filter(branch="main").select_related("pipeline").first()
    pipeline_label = f"{semaphore.name} / {build.pipeline.project.name} / {build.pipeline.name}"

    log_in(page, live_server.url, "otto", "pw-otto")
    page.click("nav >> text=Feeds")
    expect(page).to_have_title(re.compile("Feeds & badges"))
    badges = page.locator("#badges")
    badges.locator("select[name=pipeline]").select_option(label=pipeline_label)
    badges.locator("input[name=branch]").fill("main")
    badges.locator("button[type=submit]").click()
    image = badges.locator("img")
    expect(image).to_have_attribute("src", re.compile(r"/badge/semaphore/acme/pipeline/.+\.svg\?branch=main$"))
    # The badge is drawn once the browser has loaded it (waited for, not assumed).
    page.wait_for_function(
        "() => { const img = document.querySelector('#badges img');"
        " return img && img.complete && img.naturalWidth > 40 && img.naturalHeight === 20; }"
    )

    form = page.locator("form.token-form")
    form.locator("input[name=name]").fill("office light")
    form.locator("select[name=pipeline]").select_option(label=pipeline_label)
    form.locator("input[name=branch]").fill("main")
    form.locator("button[type=submit]").click()
    expect(page.locator(".warning")).to_contain_text("shown only this once")
    secret = page.locator("#feed-token").inner_text().strip()
    assert secret.startswith("cif_")

    anonymous = browser.new_context()
    try:
        feed = anonymous.request.get(f"{live_server.url}/cctray.xml?token={secret}")
        assert feed.status == 200 and f"{build.pipeline.name} / main" in feed.text()
        reader = anonymous.new_page()
        reader.goto(f"{live_server.url}/badge/semaphore/acme/pipeline/{build.pipeline.external_id}.svg?token={secret}")
        expect(reader.locator("svg title")).to_contain_text(f"{build.pipeline.name} main: ")

        page.goto(f"{live_server.url}/feeds/")
        expect(page.locator("body")).not_to_contain_text(secret)
        page.locator("#tokens button.danger").click()
        expect(page.locator(".messages")).to_contain_text("Revoked office light")
        assert anonymous.request.get(f"{live_server.url}/cctray.xml?token={secret}").status == 401
    finally:
        anonymous.close()
