"""An operator in Chromium stops a running pipeline through the confirmation page; a
viewer on the same page sees no buttons."""

import re

import pytest
from playwright.sync_api import Page, expect

from dashboard.models import ActionLog, Build
from dashboard.sync import sync_connection

from .test_builds_flow import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def a_running_build(sim, clock, connection) -> Build:
    for _ in range(120):
        sim.advance()
        busy = [p for p in sim.pipelines.values() if p.state(sim.now()) == "running" and p.end - sim.now() > 10]
        if busy:
            sync_connection(connection.pk)
            return Build.objects.get(external_id=busy[0].id)
        clock.advance(1)
    raise AssertionError("nothing ran")


def test_an_operator_stops_a_pipeline_and_a_viewer_sees_no_buttons(
    page: Page, live_server, semaphore, semaphore_sim, clock, operator, viewer
):
    sync_connection(semaphore.pk)
    clock.advance(31)
    build = a_running_build(semaphore_sim, clock, semaphore)
    url = f"{live_server.url}/semaphore/{semaphore.slug}/build/{build.external_id}"

    log_in(page, live_server.url, "otto", "pw-otto")
    page.goto(url)
    page.click("a[data-action='stop_pipeline']")
    expect(page.locator(".warning")).to_contain_text("cannot be undone")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(re.escape(build.external_id)))
    expect(page.locator(".messages")).to_contain_text("Pipeline termination started.")
    clock.advance(3)
    sync_connection(semaphore.pk)
    expect(page.locator("h1 .state")).to_contain_text("canceled", timeout=10000)  # the page refreshes itself
    assert ActionLog.objects.get(action="stop_pipeline").username == "otto"

    page.context.clear_cookies()
    log_in(page, live_server.url, "vera", "pw-vera")
    page.goto(url)
    expect(page.locator(".actions")).to_have_count(0)
