"""The log viewer in Chromium: a 50 MB log opens and scrolls with only what is shown in
the page, a pasted line link lands on its line, sections fold (failed ones open), search
steps through matches, and follow mode keeps a growing log's end in view."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from dashboard import logstore
from dashboard.logsections import end_marker, start_marker
from dashboard.models import Build, Connection, Job

from .support import Watch, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LINES_PER_STEP = 200
NEEDLES = {1500: "needle one", 300001: "needle two", 600001: "needle three"}


def a_job(state: str = "failed") -> Job:
    connection = Connection.objects.create(
        kind="semaphore", name="Logs", slug="logs", base_url="http://127.0.0.1:9", token="t"
    )
    now = timezone.now()
    build = Build.objects.create(
        connection=connection, external_id="b-1", title="big", state=state, created_at=now, started_at=now
    )
    return Job.objects.create(
        connection=connection,
        build=build,
        external_id="j-1",
        name="big log",
        state=state,
        started_at=now,
        finished_at=None if state == "running" else now,
    )


def line_text(number: int) -> str:
    """What line ``number`` of the big log says (markers aside)."""
    return NEEDLES.get(number, f"line {number} of the big log " + "x" * (number % 50))


def big_log(job: Job, megabytes: int = 50) -> int:
    """Sections of LINES_PER_STEP lines (every 97th fails), about ``megabytes`` in all;
    returns the number of lines."""
    parts, size, number, step = [], 0, 0, 0
    while size < megabytes * 1024 * 1024:
        step += 1
        block = [start_marker(f"step {step}")]
        number += 1
        for _ in range(LINES_PER_STEP):
            number += 1
            block.append(f"\x1b[32m{line_text(number)}\x1b[0m\n")
        block.append(end_marker(1 if step % 97 == 0 else 0, 2.5))
        number += 1
        text = "".join(block)
        parts.append(text)
        size += len(text)
    log = logstore.log_for(job)
    logstore.append(log, "".join(parts))
    log.complete = True
    log.save()
    return number


IN_VIEW = """line => {
    const row = document.getElementById('L' + line), box = document.getElementById('log');
    if (!row) return false;
    const r = row.getBoundingClientRect(), b = box.getBoundingClientRect();
    return b.top <= r.top && r.bottom <= b.bottom && r.top >= 0 && r.bottom <= window.innerHeight;
}"""


def in_view(page: Page, line: int) -> bool:
    """Line ``line`` ends up inside the log's box and the window (waits for it)."""
    page.wait_for_function(IN_VIEW, arg=line, timeout=10000)
    return True


def test_a_50_mb_log_opens_scrolls_links_folds_and_searches(page: Page, live_server, viewer):
    job = a_job()
    total = big_log(job)
    url = f"{live_server.url}{job.get_absolute_url()}"
    watch = Watch(page)
    log_in(page, live_server.url, "vera", "pw-vera", path=job.get_absolute_url())

    # It opens at the end (the last section, folded), with only a screenful of lines in the page.
    expect(page.locator(f"#L{total - LINES_PER_STEP - 1}.section-head")).to_be_visible()
    assert page.locator(".log-view .line").count() < 400
    expect(page.locator("[data-log-total]")).to_have_text(str(total))

    # Passed sections are folded, the failed one is open.
    failed_start = 96 * (LINES_PER_STEP + 2) + 1  # step 97
    page.evaluate("line => { location.hash = '#L' + line; }", failed_start)
    expect(page.locator(f"#L{failed_start}.section-failed .fold")).to_have_attribute("aria-expanded", "true")
    expect(page.locator(f"#L{failed_start + 1} .lt")).to_have_text(line_text(failed_start + 1))
    passed_start = failed_start - LINES_PER_STEP - 2  # the section before, folded: one row above
    expect(page.locator(f"#L{passed_start}.section-passed .fold")).to_have_attribute("aria-expanded", "false")
    expect(page.locator(f"#L{passed_start} .section-facts")).to_have_text("exit 0 · 2.5s")

    # Unfold everything and jump to the middle: that page of lines loads, and only it.
    page.click("[data-log-expand]")
    page.evaluate("() => { const l = document.getElementById('log'); l.scrollTop = l.scrollHeight / 2; }")
    page.wait_for_function(
        "() => document.querySelectorAll('.log-view .line').length > 20"
        " && !document.querySelector('.log-view .loading')"
    )
    first = int(page.locator(".log-view .line").nth(45).get_attribute("id")[1:])
    assert abs(first - total / 2) < 2000
    shown = page.locator(f"#L{first} .lt").inner_text()
    assert shown in (line_text(first), "", *(f"end of step {n}: exit 0 · 2.5s" for n in range(1, 4000)))
    assert page.locator(".log-view .line").count() < 400

    # A line link pasted in a new tab lands on that line, inside a folded section.
    for link, lines in (("#L120", [120]), ("#L300001-L300003", [300001, 300002, 300003])):
        tab = page.context.new_page()
        tab.goto(url + link)
        expect(tab.locator(f"#L{lines[0]}")).to_be_visible()
        assert in_view(tab, lines[0])
        expect(tab.locator(".log-view .line.hl")).to_have_count(len(lines))
        expect(tab.locator(f"#L{lines[0]} .lt")).to_have_text(line_text(lines[0]))
        tab.close()

    # Folding a section moves what follows up; unfolding brings it back.
    page.click("[data-log-collapse]")
    page.goto(url + "#L1")
    expect(page.locator("#L1 .fold")).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#L2")).to_have_count(0)
    page.click("#L1 .fold")
    expect(page.locator("#L2 .lt")).to_have_text(line_text(2))
    page.click("#L1 .fold")
    expect(page.locator("#L2")).to_have_count(0)

    # Search with next and previous, across the whole log.
    page.fill("input[name=q]", "needle")
    page.press("input[name=q]", "Enter")
    expect(page.locator("[data-log-count]")).to_have_text("1 of 3")
    expect(page.locator("#L1500.match-current mark")).to_have_text("needle")
    page.click("[data-log-next]")
    expect(page.locator("[data-log-count]")).to_have_text("2 of 3")
    assert in_view(page, 300001)
    page.press("input[name=q]", "Enter")
    expect(page.locator("[data-log-count]")).to_have_text("3 of 3")
    page.press("input[name=q]", "Shift+Enter")
    expect(page.locator("[data-log-count]")).to_have_text("2 of 3")
    page.click("[data-log-prev]")
    expect(page.locator("[data-log-count]")).to_have_text("1 of 3")
    assert in_view(page, 1500)
    assert watch.problems() == []


def test_follow_mode_keeps_the_end_in_view_until_the_reader_scrolls_up(page: Page, live_server, viewer, settings):
    settings.LOG_REFRESH_AFTER = 3600  # what is stored is fresh: the tail reads it without asking a provider
    job = a_job("running")
    log = logstore.log_for(job)
    logstore.append(log, "".join(f"early {n}\n" for n in range(1, 101)))
    log.fetched_at = timezone.now()
    log.save()
    log_in(page, live_server.url, "vera", "pw-vera", path=job.get_absolute_url())
    expect(page.locator("[data-log-follow]")).to_be_checked()
    expect(page.locator("#L100")).to_be_visible()

    logstore.append(log, start_marker("make test") + "".join(f"later {n}\n" for n in range(1, 301)))
    log.fetched_at = timezone.now()
    log.save()
    expect(page.locator("#L401 .lt")).to_have_text("later 300", timeout=15000)  # arrived by the tail poller
    assert in_view(page, 401)
    # The running section is open: its last line shows, and the viewer says so.
    running = "() => { const v = window.logViewer; return v.sections[0].open && !v.collapsed(v.sections[0]); }"
    assert page.evaluate(running)

    page.evaluate("() => { const l = document.getElementById('log'); l.scrollTop = 0; }")
    expect(page.locator("[data-log-follow]")).not_to_be_checked()
    logstore.append(log, "".join(f"even later {n}\n" for n in range(1, 51)) + end_marker(0, 12))
    log.fetched_at = timezone.now()
    log.save()
    expect(page.locator("[data-log-total]")).to_have_text("452", timeout=15000)
    assert page.evaluate(IN_VIEW, 1)  # the reader stays where they scrolled to
    page.check("[data-log-follow]")
    # The section ended well, so it folded: the end of the log is its header, with the exit code.
    expect(page.locator("#L101 .section-facts")).to_have_text("exit 0 · 12s")
    assert in_view(page, 101)
