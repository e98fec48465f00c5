"""The insights pages and their API, as viewers and strangers meet them."""

import csv
import io

import pytest
from django.urls import reverse

from dashboard.insights import capacity
from dashboard.models import Agent, AgentType, Deployment, DeploymentTarget, InsightsSettings, Pipeline

from .conftest import at

PAGES = ("insights", "insights-flaky", "insights-queue", "insights-dora")
APIS = (
    "api-insights-trends",
    "api-insights-jobs",
    "api-insights-flakes",
    "api-insights-time-red",
    "api-insights-queue",
    "api-insights-capacity",
    "api-insights-dora",
)


@pytest.fixture
def applied(history):
    InsightsSettings.objects.create(connection=history.connection, deploy_pipelines="deploy-*")
    history.apply()
    return history


def rows_of(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_strangers_are_sent_to_log_in_and_the_api_refuses_them(client, applied):
    for name in PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), name
    for name in APIS:
        assert client.get(reverse(name)).status_code in (401, 403), name
    assert client.get("/api/insights/trends.csv").status_code in (401, 403)


def test_viewers_read_every_page_and_every_api(viewer_client, applied):
    for name in PAGES:
        assert viewer_client.get(reverse(name), {"window": 7}).status_code == 200, name
    for name in APIS:
        assert viewer_client.get(reverse(name), {"window": 7}).status_code == 200, name
        assert viewer_client.get(reverse(name), {"window": 7, "format": "csv"}).status_code == 200, name


def test_the_trends_page_shows_the_figures_and_links_days_to_their_builds(viewer_client, applied):
    h = applied
    response = viewer_client.get(reverse("insights"), {"connection": "acme", "pipeline": "ci", "window": 7})
    page = response.content.decode()
    assert '<div class="chart" data-chart="builds"' in page
    assert 'id="insights-charts" type="application/json"' in page
    assert f'href="/builds/?connection=acme&amp;pipeline=ci&amp;day={h.d1.isoformat()}"' in page
    assert "66.7 %" in page  # day 1's success rate in the table
    assert "8 m 20 s" in page  # test's p50
    assert "/semaphore/acme/job/b6-test-0" in page  # its last failure
    assert "1 h 1 m" in page  # time to fix main, p50 (3690 s)


def test_pages_carry_no_inline_script_or_style(viewer_client, applied):
    urls = [reverse(name) for name in PAGES] + [
        "/semaphore/acme/pipeline/p-api:ci.yml",
        "/semaphore/acme/build/b2",
    ]
    for url in urls:
        page = viewer_client.get(url).content.decode()
        for tag in page.split("<script")[1:]:
            opening = tag.split(">", 1)[0]
            assert "src=" in opening or 'type="application/json"' in opening, (url, opening)
        insights_part = page.split('<section class="trend"')[-1] if "trend" in url else page
        assert "insights" not in url or 'style="' not in insights_part, url


def test_the_builds_list_opens_on_a_chart_day(viewer_client, applied):
    h = applied
    response = viewer_client.get(reverse("builds"), {"connection": "acme", "pipeline": "ci", "day": h.d1.isoformat()})
    shown = {row.split('"')[0] for row in response.content.decode().split('data-external-id="')[1:]}
    assert shown == {"b1", "b2", "b3", "b4"}
    api = viewer_client.get(reverse("api-builds"), {"pipeline": "deploy-prod", "day": h.d2.isoformat()}).json()
    assert {b["external_id"] for b in api["results"]} == {"d2", "d3"}


def test_the_api_gives_every_figure_as_json_and_csv(viewer_client, applied):
    h = applied
    params = {"connection": "acme", "pipeline": "ci", "window": 7}
    trends = viewer_client.get(reverse("api-insights-trends"), params).json()
    assert trends["scope"]["pipeline"] == "ci" and trends["scope"]["window_days"] == 7
    first = next(r for r in trends["rows"] if r["day"] == h.d1.isoformat())
    assert (first["builds"], first["success_rate"], first["duration_p50"]) == (4, 66.7, 600.0)
    as_csv = rows_of(viewer_client.get("/api/insights/trends.csv", params))
    assert list(as_csv[0]) == trends["columns"]
    assert next(r for r in as_csv if r["day"] == h.d1.isoformat())["builds"] == "4"
    assert rows_of(viewer_client.get(reverse("api-insights-trends"), {**params, "format": "csv"})) == as_csv

    jobs = viewer_client.get(reverse("api-insights-jobs"), {**params, "sort": "failure_rate"}).json()["rows"]
    assert [(j["job"], j["failure_rate"]) for j in jobs] == [("test", 50.0), ("lint", 16.7)]
    flakes = rows_of(viewer_client.get("/api/insights/flakes.csv", params))
    assert [(f["job"], f["failed_url"], f["passed_url"]) for f in flakes] == [
        ("test", "/semaphore/acme/job/b2-test-0", "/semaphore/acme/job/b3-test-0")
    ]
    red = viewer_client.get(reverse("api-insights-time-red"), params).json()["rows"]
    assert [(r["pipeline"], r["spells"], r["time_to_fix_p50"]) for r in red] == [("ci", 2, 3690.0)]
    dora = viewer_client.get(reverse("api-insights-dora"), {"window": 7}).json()
    assert dora["overall"]["change_failure_rate"] == 33.3
    assert dora["rows"][0]["target"] == "deploy-prod"
    queue = rows_of(viewer_client.get("/api/insights/queue.csv", params))
    s1 = [r for r in queue if r["machine_type"] == "s1-linux"]
    assert [(r["day"], r["jobs"], r["wait_p95"]) for r in s1] == [(h.d1.isoformat(), "2", "360.0")]


def test_bad_filters_get_a_clear_answer(viewer_client, applied):
    response = viewer_client.get(reverse("api-insights-trends"), {"connection": "nope", "window": 12})
    assert response.status_code == 400
    errors = " ".join(response.json()["errors"])
    assert 'No connection with the slug "nope".' in errors and "12" in errors
    assert viewer_client.get(reverse("api-insights-jobs"), {"sort": "nonsense"}).status_code == 400
    assert "error" in viewer_client.get("/api/insights/trends.csv", {"project": "nothing"}).content.decode()
    page = viewer_client.get(reverse("insights"), {"project": "nothing", "window": 7})
    assert page.status_code == 200
    assert "No project named &quot;nothing&quot;." in page.content.decode()
    assert 'value="nothing"' in page.content.decode()  # what was typed stays in the form


def test_a_csv_cell_cannot_become_a_spreadsheet_formula(viewer_client, applied):
    h = applied
    evil = Pipeline.objects.create(connection=h.connection, project=h.project, external_id="x", name='=HYPERLINK("x")')
    h.build(
        "evil",
        pipeline=evil,
        state="failed",
        created=at(h.d2, "12:00"),
        started=at(h.d2, "12:00"),
        finished=at(h.d2, "12:01"),
        jobs=[("-2+3", "failed", at(h.d2, "12:00"), at(h.d2, "12:00"), 60)],
    )
    h.apply("evil")
    rows = rows_of(viewer_client.get("/api/insights/jobs.csv", {"window": 7, "pipeline": "x"}))
    assert [(r["pipeline"], r["job"]) for r in rows] == [('\'=HYPERLINK("x")', "'-2+3")]
    assert (
        viewer_client.get(reverse("api-insights-jobs"), {"window": 7, "pipeline": "x"}).json()["rows"][0]["job"]
        == "-2+3"
    )


def test_semaphore_deployment_history_feeds_dora(viewer_client, applied):
    h = applied
    target = DeploymentTarget.objects.create(
        connection=h.connection, project=h.project, external_id="t1", name="production"
    )
    ok = Deployment.objects.create(
        connection=h.connection,
        target=target,
        external_id="dep1",
        state="STARTED",
        triggered_at=at(h.d2, "11:16"),
        build=h.builds["b7"],
    )
    Deployment.objects.create(
        connection=h.connection, target=target, external_id="dep0", state="FAILED", triggered_at=at(h.d2, "10:30")
    )
    Deployment.objects.create(
        connection=h.connection, target=target, external_id="dep2", state="PENDING", triggered_at=at(h.d2, "12:00")
    )
    from dashboard.insights import dora

    dora.refresh_deployments(h.connection.pk, since=at(h.d1, "00:00"))
    figures = viewer_client.get(reverse("api-insights-dora"), {"window": 7}).json()
    production = next(r for r in figures["rows"] if r["target"] == "production")
    # dep0 failed at 10:30; dep1 ran b7, which finished 11:15: lead 15 m from b7's creation
    # (the first pipeline of c6), restored 45 m after the failure; dep2 has not finished.
    assert (production["deployments"], production["failed"], production["change_failure_rate"]) == (2, 1, 50.0)
    assert production["lead_time_p50"] == 900 and production["time_to_restore_p50"] == 2700
    assert ok.pk


def test_queue_wait_is_shown_beside_the_agents_that_were_busy(viewer_client, applied):
    h = applied
    s1 = AgentType.objects.create(connection=h.connection, external_id="s1-linux", name="s1-linux")
    for name in ("a1", "a2"):
        Agent.objects.create(
            connection=h.connection, external_id=name, name=name, agent_type=s1, state="busy", raw_state="running_job"
        )
    capacity.sample(h.connection.pk, at=at(h.d1, "12:05"))
    Agent.objects.filter(name="a2").update(state="idle", raw_state="waiting_for_job")
    capacity.sample(h.connection.pk, at=at(h.d1, "12:35"))
    page = viewer_client.get(reverse("insights-queue"), {"connection": "acme", "window": 7}).content.decode()
    sentence = " ".join(page.split("Jobs waited <strong>6 m</strong>")[1].split("</li>")[0].split())
    assert sentence.startswith("at p95 (0 s at p50) on <strong>s1-linux</strong> while <strong>2 of 2</strong>")
    assert "all busy 50 % of the time" in sentence
    rows = viewer_client.get(reverse("api-insights-capacity"), {"connection": "acme", "window": 7}).json()["rows"]
    assert rows == [
        {
            "agent_type": "s1-linux",
            "day": h.d1.isoformat(),
            "samples": 2,
            "online_avg": 2.0,
            "online_max": 2,
            "busy_avg": 1.5,
            "busy_max": 2,
            "saturated_share": 50.0,
        }
    ]
