"""A person in Chromium: logs in, filters the builds, opens a build and a job, and
watches the log of a running job grow."""

import re

import pytest
from playwright.sync_api import Page, expect

from dashboard.models import Build, Job
from dashboard.sync import sync_connection

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/builds/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page).to_have_title(re.compile("Builds"))


def a_running_job(sim, clock, connection) -> Job:
    for _ in range(90):
        sim.advance()
        running = [
            j
            for _, j in sim.jobs.values()
            if j.status(sim.now())[0] == "RUNNING" and j.start + j.duration - sim.now() > 8
        ]
        if running:
            sync_connection(connection.pk)
            return Job.objects.get(external_id=running[0].id)
        clock.advance(1)
    raise AssertionError("no job started")


def test_a_user_filters_opens_a_build_and_watches_a_log_grow(
    page: Page, live_server, semaphore, semaphore_sim, clock, viewer
):
    sync_connection(semaphore.pk)
    clock.advance(31)
    job = a_running_job(semaphore_sim, clock, semaphore)
    build = job.build

    log_in(page, live_server.url, "vera", "pw-vera")
    expect(page.locator("tr.build-row")).to_have_count(Build.objects.count())

    page.select_option("select[name=state]", "running")
    expect(page).to_have_url(re.compile(r"state=running"))
    expect(page.locator("tr.build-row")).to_have_count(Build.objects.filter(state="running").count())
    expect(page.locator(f'tr[data-external-id="{build.external_id}"]')).to_be_visible()

    page.click(f'tr[data-external-id="{build.external_id}"] a')
    expect(page.locator(".dag svg")).to_be_visible()
    expect(page.locator(".dag .node")).to_have_count(build.jobs.count())

    page.click(f'tr.job-row[data-external-id="{job.external_id}"] a')
    expect(page).to_have_title(re.compile(re.escape(job.name)))
    log = page.locator("#log")
    before = len(log.inner_text())
    clock.advance(6)  # the job writes more output
    # A function, not a string: the Content-Security-Policy forbids evaluating strings.
    page.wait_for_function("n => document.getElementById('log').innerText.length > n", arg=before, timeout=15000)
    clock.advance(60)  # to the end of the job
    expect(log).to_contain_text("Job passed", timeout=15000)
    page.click("[data-log-expand]")  # passed commands fold once they end
    expect(log).to_contain_text("<ok> & done", timeout=15000)  # markup in a log is shown as text
    expect(log).to_contain_text(re.compile(r"Job (passed|failed)"))
