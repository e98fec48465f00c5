"""What a team notices all day: times in their own zone, the keyboard, the phone menu,
the favicon, the wallboard changing without a reload. (Live pages picking up what a
sync commits: test_freshness_flow.py.)"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from dashboard.models import Build, Connection, Pipeline
from dashboard.models.connections import Health

from .support import PHONE, Watch, log_in, new_context

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def builds(db):
    now = timezone.now()
    connection = Connection.objects.create(
        kind="semaphore",
        name="Acme",
        slug="acme",
        base_url="http://127.0.0.1:9",
        token="t",
        health=Health.OK,
        last_synced_at=now,
    )
    pipeline = Pipeline.objects.create(connection=connection, external_id="pl", name="shop-ci")
    made = {}
    for n, (branch, state) in enumerate([("main", "failed"), ("dev", "passed"), ("feature/x", "running")]):
        created = now - timedelta(minutes=30 - n)
        made[branch] = Build.objects.create(
            connection=connection,
            pipeline=pipeline,
            external_id=f"b{n}",
            title=f"build {n}",
            branch=branch,
            state=state,
            created_at=created,
            started_at=created,
            finished_at=None if state == "running" else created + timedelta(minutes=2),
            triggered_by="ann",
        )
    return made


def test_times_show_in_the_viewers_zone_and_keep_current(browser, live_server, builds, viewer):
    context = browser.new_context(timezone_id="America/New_York", locale="en-US")
    page = context.new_page()
    log_in(page, live_server.url, "vera", "pw-vera", path=builds["main"].get_absolute_url())
    absolute = page.locator("time[data-absolute]").first
    expect(absolute).to_have_text(re.compile(r"\b(EST|EDT)$"))  # the zone is named
    assert "UTC" not in absolute.inner_text()
    # Relative words are recomputed in the page: an event five minutes ago says so.
    page.evaluate(
        "() => { const t = document.querySelector('time[data-relative]');"
        " t.setAttribute('datetime', new Date(Date.now() - 300000).toISOString()); t.id = 'probe'; }"
    )
    expect(page.locator("#probe")).to_have_text("5 minutes ago")
    page.goto(f"{live_server.url}{reverse('builds')}")
    ticking = page.locator("time[data-elapsed]").first
    before = ticking.inner_text()
    expect(ticking).not_to_have_text(before, timeout=5000)  # a running build's elapsed time ticks
    context.close()


def test_the_keyboard_searches_moves_through_lists_and_skips_to_content(page: Page, live_server, builds, viewer):
    log_in(page, live_server.url, "vera", "pw-vera", path=reverse("builds"))
    page.keyboard.press("/")
    expect(page.locator("input[name=q]")).to_be_focused()
    page.keyboard.press("Escape")
    rows = page.locator("tr.build-row")
    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_class(re.compile("kb-selected"))
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class(re.compile("kb-selected"))
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_class(re.compile("kb-selected"))
    first = rows.nth(0).get_attribute("data-external-id")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(re.escape(f"/build/{first}")))

    page.goto(f"{live_server.url}{reverse('builds')}")
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    expect(skip).to_be_focused()
    expect(skip).to_have_text("Skip to content")
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()


def test_the_phone_menu_opens_and_the_favicon_shows_the_state(browser, live_server, builds, viewer):
    context = new_context(browser, PHONE)
    page = context.new_page()
    watch = Watch(page)
    log_in(page, live_server.url, "vera", "pw-vera", path=reverse("builds"))
    logout = page.get_by_role("button", name="Log out")
    expect(logout).to_be_hidden()
    page.click("[data-nav-toggle]")
    expect(logout).to_be_visible()
    expect(page.get_by_role("link", name="Wallboard")).to_be_visible()
    expect(page.locator("[data-nav-toggle]")).to_have_attribute("aria-expanded", "true")
    # One build is red: the tab's icon says so.
    expect(page.locator("link[rel=icon]")).to_have_attribute("href", re.compile(r"favicon/red\.svg$"))
    assert watch.problems() == []
    context.close()


def test_the_wallboard_shows_a_state_change_without_a_reload(page: Page, live_server, builds, viewer):
    log_in(page, live_server.url, "vera", "pw-vera", path=reverse("wall"))
    main = page.locator(".tile", has_text="main")
    expect(main).to_have_class(re.compile(r"\btile-red\b"))
    page.evaluate("() => { window.notReloaded = true; }")
    Build.objects.filter(pk=builds["main"].pk).update(state="passed")
    expect(main).to_have_class(re.compile(r"\btile-green\b"), timeout=25000)  # the board polls every 10 s
    assert page.evaluate("() => window.notReloaded === true")
    Connection.objects.update(health=Health.UNREACHABLE)
    expect(main.locator(".tile-warning")).to_contain_text("unreachable", timeout=25000)
