"""A person in Chromium opens the insights page: the charts are drawn, hovering a day
shows its figures, and clicking it opens the builds of that day."""

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import make_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page).to_have_title(re.compile("Overview"))


def painted_pixels(page: Page, selector: str) -> int:
    return page.evaluate(
        """(selector) => {
            const canvas = document.querySelector(selector + ' canvas');
            const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
            return painted;
        }""",
        selector,
    )


def point_of(page: Page, selector: str, index: int) -> tuple[float, float]:
    """Where the chart draws day ``index`` (on the page), from uPlot's own scale."""
    return page.evaluate(
        """([selector, index]) => {
            const plot = document.querySelector(selector).uplot;
            const box = plot.over.getBoundingClientRect();
            return [box.left + plot.valToPos(plot.data[0][index], 'x'), box.top + box.height / 2];
        }""",
        [selector, index],
    )


def test_a_viewer_reads_the_charts_and_clicks_through_to_a_days_builds(page: Page, live_server, viewer):
    history = make_history()
    history.apply()
    log_in(page, live_server.url, "vera", "pw-vera")
    page.click("nav a:text('Insights')")
    expect(page).to_have_title(re.compile("Insights"))

    page.goto(f"{live_server.url}/insights/?connection=acme&pipeline=ci&window=7")
    chart = '.chart[data-chart="builds"]'
    expect(page.locator(f'{chart}[data-drawn="true"] canvas')).to_be_visible()
    assert painted_pixels(page, chart) > 500
    for other in ("success", "duration"):
        expect(page.locator(f'.chart[data-chart="{other}"][data-drawn="true"] canvas')).to_be_visible()
    # The numbers are a table too.
    expect(page.locator("table.per-day tbody tr")).to_have_count(7)

    day_index = 4  # the window ends today: day 1 of the history is the 5th of 7
    x, y = point_of(page, chart, day_index)
    page.mouse.move(x, y)
    legend = page.locator(f"{chart} .u-legend")
    expect(legend).to_contain_text(history.d1.isoformat())
    expect(legend.locator("tr", has_text="all builds")).to_contain_text("4")

    page.mouse.click(x, y)
    expect(page).to_have_url(re.compile(rf"day={history.d1.isoformat()}"))
    expect(page).to_have_title(re.compile("Builds"))
    rows = page.locator("tr.build-row")
    expect(rows).to_have_count(4)  # b1, b2, b3 and the canceled b4 of pipeline ci
    expect(page.locator('input[name="day"]')).to_have_value(history.d1.isoformat())


def test_the_pipeline_page_draws_its_trend_and_the_build_page_marks_a_flaky_job(page: Page, live_server, viewer):
    history = make_history()
    history.apply()
    log_in(page, live_server.url, "vera", "pw-vera")
    page.goto(f"{live_server.url}/semaphore/acme/pipeline/p-api:ci.yml")
    expect(page.locator('.trend .chart[data-chart="duration"][data-drawn="true"] canvas')).to_be_visible()

    page.goto(f"{live_server.url}/semaphore/acme/build/b2")
    row = page.locator('tr.job-row[data-external-id="b2-test-0"]')
    expect(row.locator(".flaky-badge").first).to_contain_text("flaky")
    expect(row.locator(".usual")).to_contain_text("this job usually takes 8 m 20 s (p50); this run took 10 m")
