"""A change committed by a sync shows on the open builds list, overview and build page
within a poll or two, without a reload; while nothing changes the polls come back 204
(no content) and the page stays as it is."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from dashboard.models import Build
from dashboard.sync import sync_connection

from .support import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The pages poll every second; a change shows by the next poll. The bound only keeps a
# broken page from hanging the run.
SHOWN_WITHIN_MS = 5000


@pytest.fixture
def synced(semaphore, viewer):
    sync_connection(semaphore.pk)
    return semaphore


def _polls(page: Page, path: str) -> list[int]:
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if "seen=" in r.url and path in r.url else None)
    return statuses


def test_a_new_build_appears_on_the_open_builds_list_without_a_reload(page: Page, live_server, synced, clock):
    log_in(page, live_server.url, "vera", "pw-vera", path=reverse("builds"))
    polls = _polls(page, reverse("builds"))
    page.evaluate("() => { window.notReloaded = true; }")
    before = set(Build.objects.values_list("external_id", flat=True))
    page.wait_for_timeout(2500)  # a few quiet polls
    assert polls and set(polls) == {204}, polls

    clock.advance(31)  # one new workflow per project arrives at the provider
    sync_connection(synced.pk)
    new = Build.objects.exclude(external_id__in=before).order_by("-created_at").first()
    assert new is not None
    expect(page.locator(f'tr[data-external-id="{new.external_id}"]')).to_be_visible(timeout=SHOWN_WITHIN_MS)
    assert page.evaluate("() => window.notReloaded === true")
    assert 200 in polls


def test_the_overview_and_a_running_build_follow_the_sync(page: Page, live_server, synced, clock):
    clock.advance(31)
    sync_connection(synced.pk)
    running = Build.objects.filter(state__in=["queued", "running"]).order_by("-created_at").first()
    assert running is not None
    log_in(page, live_server.url, "vera", "pw-vera", path=reverse("home"))
    in_running = page.locator(f'#running-heading + .table-scroll a[href="{running.get_absolute_url()}"]')
    expect(in_running.first).to_be_visible()
    page.evaluate("() => { window.notReloaded = true; }")

    build_page = page.context.new_page()
    build_page.goto(live_server.url + running.get_absolute_url())
    badge = build_page.locator("#build h1")
    expect(badge).to_contain_text(running.state)

    clock.advance(3600)  # everything that ran has finished at the provider
    sync_connection(synced.pk)
    running.refresh_from_db()
    assert running.state in ("passed", "failed")
    expect(badge).to_contain_text(running.state, timeout=SHOWN_WITHIN_MS)
    expect(in_running).to_have_count(0, timeout=SHOWN_WITHIN_MS)  # it left "running now"
    assert page.evaluate("() => window.notReloaded === true")
