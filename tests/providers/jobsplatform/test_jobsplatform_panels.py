"""The jobs platform's panels (docs/providers/jobsplatform.md, "Panels"): on a job's page
its current definition, schedule facts, run counts, a log window of all its runs and
the CPU and memory charts; on a run's pages what it ran and its error, and a window of
its own log lines. Each part fails on its own, and every context is plain data."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.http import QueryDict
from django.template.loader import render_to_string
from django.urls import reverse

from dashboard.models import Build, Job
from dashboard.sync import sync_connection
from providers.base.errors import Rejected
from providers.jobsplatform import contract as c
from providers.jobsplatform.client import Window
from providers.jobsplatform.panels import build_panel, job_panel, log_lines, pipeline_panel, read_window

from . import support


@pytest.fixture
def synced(jp):
    sync_connection(jp.pk)
    return jp


class Asked:
    """What the panel view hands a panel: the page's query string."""

    def __init__(self, query: str = ""):
        self.GET = QueryDict(query)


def all_lines(sim, runs) -> list[tuple[float, str, str, str]]:
    now = sim.now()
    return sorted((ts, stream, line, run.id) for run in runs for ts, stream, line in run.log(now))


def window(**kw) -> dict:
    return {"since": None, "start": None, "end": None, "limit": 1000, "q": "", **kw}


def render(name: str, context: dict) -> str:
    return render_to_string(f"providers/jobsplatform/{name}.html", context)


# Log windows ------------------------------------------------------------------------------------
def test_the_job_window_holds_lines_of_every_run_oldest_first(synced, jp_sim, adapter):
    job = support.job_named(jp_sim, "heartbeat")
    logs = log_lines(adapter, support.pipeline_of(job), window(since=3600))

    expected = all_lines(jp_sim, [jp_sim.runs[r] for r in job.runs])
    assert [(ln["line"], ln["run_id"]) for ln in logs["lines"]] == [(line, run) for _, _, line, run in expected]
    assert len({ln["run_id"] for ln in logs["lines"]}) == len(job.runs) > 1
    assert all(ln["run_url"] == f"/jobsplatform/jp/build/{job.id}:{ln['run_id']}" for ln in logs["lines"])
    assert not logs["truncated"]


def test_a_run_window_holds_only_that_run(synced, jp_sim, adapter):
    job = support.job_named(jp_sim, "heartbeat")
    run = jp_sim.runs[job.runs[0]]
    build = Build.objects.get(external_id=f"{job.id}:{run.id}")

    for target in (build, Job.objects.get(external_id=build.external_id)):
        logs = log_lines(adapter, target, window())
        assert [ln["line"] for ln in logs["lines"]] == [line for _, _, line in run.log(jp_sim.now())]
        assert {ln["run_id"] for ln in logs["lines"]} == {run.id}
        assert any(ln["stderr"] for ln in logs["lines"]) == any(s == c.STDERR for _, s, _ in run.lines)


def test_limit_keeps_the_newest_lines_and_says_so(synced, jp_sim, adapter):
    job = support.job_named(jp_sim, "heartbeat")
    logs = log_lines(adapter, support.pipeline_of(job), window(limit=3))

    expected = all_lines(jp_sim, [jp_sim.runs[r] for r in job.runs])[-3:]
    assert [ln["line"] for ln in logs["lines"]] == [line for _, _, line, _ in expected]
    assert logs["truncated"]


def test_the_filter_is_a_case_sensitive_substring(synced, jp_sim, adapter):
    pipeline = support.pipeline_of(support.job_named(jp_sim, "heartbeat"))
    upper = log_lines(adapter, pipeline, window(q="GET /health"))
    lower = log_lines(adapter, pipeline, window(q="get /health"))

    assert upper["lines"] and all("GET /health" in ln["line"] for ln in upper["lines"])
    assert lower["lines"] == []


def test_a_since_window_leaves_out_older_runs_and_start_end_pick_an_exact_span(synced, jp_sim, adapter):
    job = support.job_named(jp_sim, "backfill-events")
    pipeline = support.pipeline_of(job)
    runs = sorted((jp_sim.runs[r] for r in job.runs), key=lambda r: r.created)
    newest = runs[-1]

    recent = log_lines(adapter, pipeline, window(since=int(jp_sim.now() - newest.start) + 1))
    assert {ln["run_id"] for ln in recent["lines"]} == {newest.id}

    first = runs[0]
    start = datetime.fromtimestamp(first.start, tz=UTC)
    span = log_lines(adapter, pipeline, window(start=start, end=start + timedelta(seconds=first.duration + 1)))
    assert {ln["run_id"] for ln in span["lines"]} == {first.id}
    assert len(span["lines"]) == len(first.log(jp_sim.now()))


def test_bad_window_parameters_are_refused_by_the_platform(synced, jp_sim, api):
    job = support.job_named(jp_sim, "heartbeat")
    with pytest.raises(Rejected, match="limit must be a whole number from 1 to 5000"):
        api.logs(job.project_id, job.id, limit=0)
    with pytest.raises(Rejected, match="since must be a positive number"):
        api.logs(job.project_id, job.id, window=Window(since=-5))
    with pytest.raises(Rejected, match="end must be later than start"):
        now = datetime.now(UTC)
        api.logs(job.project_id, job.id, window=Window(start=now, end=now - timedelta(hours=1)))


def test_the_window_form_reads_the_page_query_and_explains_what_it_refuses():
    assert read_window(QueryDict("logs-since=86400&logs-limit=2&logs-q=GET&after=xyz"), 3600) == (
        window(since=86400, limit=2, q="GET"),
        [],
    )
    assert read_window(QueryDict(""), None) == (window(limit=200), []), "a run's window is the whole run"
    chosen, errors = read_window(QueryDict("logs-start=2026-01-02T10:00&logs-end=2026-01-01T10:00"), 3600)
    assert chosen == window(since=3600, limit=200) and errors == ["The end of the window must be after its start."]


# Metrics ----------------------------------------------------------------------------------------
def test_metrics_come_as_two_series_in_cores_and_bytes(synced, jp_sim, api):
    job = support.job_named(jp_sim, "nightly-report")  # its runs last 10 s or more: one sample at least
    api.trigger_run(job.project_id, job.id)
    run = jp_sim.runs[job.runs[-1]]
    jp_sim.clock.advance(run.end - jp_sim.now() - 0.01)

    data = api.metrics(job.project_id, job.id, [c.CPU_USAGE, c.MEMORY_USAGE], Window(since=600))

    cpu = [v for _, v in data[c.CPU_USAGE][c.SERIES]]
    memory = [v for _, v in data[c.MEMORY_USAGE][c.SERIES]]
    assert 0 < max(cpu) <= 1.5, "cores of the one running run"
    assert 64 * 2**20 * 0.8 <= max(memory) <= 512 * 2**20
    times = [t for t, _ in data[c.CPU_USAGE][c.SERIES]]
    assert times == sorted(times) and times[-1] <= jp_sim.now()


def test_one_failing_metric_does_not_fail_the_other(synced, jp_sim, api):
    jp_sim.failing_metrics = {c.MEMORY_USAGE: "query timed out after 30s"}
    job = support.job_named(jp_sim, "heartbeat")
    data = api.metrics(job.project_id, job.id, [c.CPU_USAGE, c.MEMORY_USAGE, "gpu_usage"])

    assert data[c.CPU_USAGE][c.STATUS] == c.SUCCESS and data[c.CPU_USAGE][c.SERIES]
    assert data[c.MEMORY_USAGE] == {c.STATUS: c.ERROR, c.MESSAGE: "query timed out after 30s"}
    assert "Unknown metric 'gpu_usage'" in data["gpu_usage"][c.MESSAGE]


# The job's page ----------------------------------------------------------------------------------
def test_the_job_panel_shows_schedule_counts_latest_run_logs_and_charts(synced, jp_sim, adapter):
    job = support.job_named(jp_sim, "heartbeat")
    jp_sim.clock.advance(45)  # one more run has come and gone; not synced yet
    panel = pipeline_panel(adapter, support.pipeline_of(job), Asked())["panel"]

    schedule = panel["schedule"]
    assert schedule["cron"] == "* * * * *" and schedule["missed"] is False
    assert schedule["next_fire_at"].timestamp() == job.next_fire
    assert dict(panel["counts"])[c.TOTAL] == len(job.runs)
    assert panel["latest"]["run_id"] == job.runs[-1] and panel["latest"]["url"] == "", "not synced: no link"
    assert [ch["name"] for ch in panel["charts"]] == [c.CPU_USAGE, c.MEMORY_USAGE]
    assert all(ch["points"] for ch in panel["charts"])

    html = render("pipeline_panel", {"panel": panel})
    assert "<code>* * * * *</code>" in html and "Next fire" in html
    assert html.count("<polyline") == 2
    assert any(ln["stderr"] for ln in panel["logs"]["lines"])
    assert 'class="jp-line ansi31" data-stream="stderr"' in html, "stderr lines are red"
    assert "(not synced yet)" in html and "Missed" not in html


def test_the_job_panel_shows_the_definition_as_the_platform_has_it_now(synced, jp_sim, adapter, api):
    job = support.job_named(jp_sim, "backfill-events")
    api.update_job(job.project_id, job.id, {c.IMAGE: "ghcr.io/acme/etl:3.0", c.ENV_VARS: {"TOKEN": "s3cr3t"}})

    panel = pipeline_panel(adapter, support.pipeline_of(job), Asked())["panel"]

    assert panel["fresh"] and panel["job"]["image"] == "ghcr.io/acme/etl:3.0"
    assert panel["job"]["env_var_names"] == ["TOKEN"]
    assert "s3cr3t" not in json.dumps(panel, cls=DjangoJSONEncoder), "env values never reach a page"


def test_the_job_panel_flags_a_missed_fire(synced, jp_sim, adapter):
    job = support.job_named(jp_sim, "heartbeat")
    jp_sim.pause_scheduler()
    jp_sim.clock.advance(180)

    panel = pipeline_panel(adapter, support.pipeline_of(job), Asked())["panel"]

    assert panel["schedule"]["missed"] is True
    assert 'id="jp-missed"' in render("pipeline_panel", {"panel": panel})


def test_the_job_panel_search_box_and_window_reach_the_platform(synced, jp_sim, adapter):
    job = support.job_named(jp_sim, "heartbeat")
    panel = pipeline_panel(adapter, support.pipeline_of(job), Asked("logs-since=86400&logs-limit=2&logs-q=GET"))

    assert len(panel["panel"]["logs"]["lines"]) == 2
    assert all("GET" in ln["line"] for ln in panel["panel"]["logs"]["lines"])
    logs = [r.query for r in jp_sim.requests if r.path.endswith("/logs")]
    assert "since=86400" in logs[-1] and "limit=2" in logs[-1] and "filter=GET" in logs[-1]
    html = render("pipeline_panel", panel)
    assert 'value="GET"' in html and "Only the newest 2 matching lines" in html


def test_a_bad_window_in_the_form_is_explained_and_defaults_are_used(synced, jp_sim, adapter):
    job = support.job_named(jp_sim, "heartbeat")
    query = "logs-start=2026-01-02T10:00&logs-end=2026-01-01T10:00&logs-limit=0"
    panel = pipeline_panel(adapter, support.pipeline_of(job), Asked(query))

    assert panel["panel"]["window"]["since"] == 3600 and panel["panel"]["window"]["limit"] == 200
    assert "Ensure this value is greater than or equal to 1" in render("pipeline_panel", panel)


def test_a_failing_metric_shows_its_error_while_the_other_draws(synced, jp_sim, adapter):
    jp_sim.failing_metrics = {c.CPU_USAGE: "metrics backend unavailable"}
    job = support.job_named(jp_sim, "heartbeat")
    panel = pipeline_panel(adapter, support.pipeline_of(job), Asked())

    cpu, memory = panel["panel"]["charts"]
    assert cpu["error"] == "metrics backend unavailable" and "points" not in cpu
    assert "error" not in memory
    html = render("pipeline_panel", panel)
    assert "could not be read: metrics backend unavailable" in html
    assert html.count("<svg") == 1


def test_a_job_gone_at_the_platform_shows_each_part_failing_in_words(synced, jp_sim, adapter, api):
    job = support.job_named(jp_sim, "db-migrate")
    pipeline = support.pipeline_of(job)
    api.delete_job(job.project_id, job.id)

    panel = pipeline_panel(adapter, pipeline, Asked())["panel"]

    assert "shown as last synced" in panel["job_error"] and panel["job"]["image"] == "ghcr.io/acme/api:1.4.2"
    assert "Could not read the job's status: Not found: Job" in panel["status_error"]
    assert "Could not read the logs" in panel["logs_error"]
    assert "Could not read the metrics" in panel["metrics_error"]
    html = render("pipeline_panel", {"panel": panel})
    assert html.count('class="error"') >= 3


def test_the_job_panel_loads_after_the_page_through_the_dashboards_panel_view(synced, jp_sim, viewer_client):
    job = support.job_named(jp_sim, "heartbeat")
    pipeline = support.pipeline_of(job)
    page = viewer_client.get(reverse("pipeline", args=["jobsplatform", "jp", pipeline.external_id]) + "?logs-q=GET")
    assert page.status_code == 200
    assert b"/panel/pipeline_panel/pipeline/" in page.content and b"logs-q=GET" in page.content, "loaded after the page"

    url = reverse("panel", args=["jobsplatform", "jp", "pipeline_panel", "pipeline", pipeline.external_id])
    answer = viewer_client.get(url + "?logs-q=GET")

    html = answer.content.decode()
    assert answer.status_code == 200
    assert "<code>* * * * *</code>" in html and html.count("<polyline") == 2
    assert 'value="GET"' in html and "Pulling image" not in html, "the filter reached the platform"


# A run's pages ---------------------------------------------------------------------------------
def test_every_failed_run_shows_its_own_error_on_its_page(synced, jp_sim, viewer_client):
    failed = [r for r in jp_sim.runs.values() if r.status(jp_sim.now()) == c.FAILED]
    assert len(failed) > 1, "more than the latest run"

    for run in failed:
        build = Build.objects.get(external_id=f"{run.job_id}:{run.id}")
        page = viewer_client.get(build.get_absolute_url()).content.decode()
        assert f'id="jp-run-error">{run.error}<' in page
        assert f"<code>{run.image}</code>" in page


def test_the_run_panel_sends_since_and_filter_to_the_runs_own_log(synced, jp_sim, adapter):
    heartbeat = support.job_named(jp_sim, "heartbeat")
    run = jp_sim.runs[heartbeat.runs[-1]]
    job = Job.objects.get(external_id=f"{heartbeat.id}:{run.id}")
    jp_sim.requests.clear()

    panel = job_panel(adapter, job, Asked("logs-since=86400&logs-q=GET"))

    (asked,) = [r for r in jp_sim.requests if r.path.endswith(f"/runs/{run.id}/logs")]
    assert "since=86400" in asked.query and "filter=GET" in asked.query
    lines = panel["panel"]["logs"]["lines"]
    assert lines and all("GET" in ln["line"] and ln["run_id"] == run.id for ln in lines)
    assert panel["panel"]["run"]["run_id"] == run.id and panel["panel"]["run"]["raw_state"] in c.TERMINAL
    html = render("job_panel", panel)
    assert 'value="GET"' in html and '<option value="86400" selected>' in html


def test_the_run_panel_loads_on_the_runs_job_page(synced, jp_sim, viewer_client):
    run = next(r for r in jp_sim.runs.values() if r.status(jp_sim.now()) == c.FAILED)
    job = Job.objects.get(external_id=f"{run.job_id}:{run.id}")
    page = viewer_client.get(job.get_absolute_url()).content.decode()
    assert "/panel/job_panel/job/" in page

    url = reverse("panel", args=["jobsplatform", "jp", "job_panel", "job", job.external_id])
    html = viewer_client.get(url + "?logs-q=ERROR").content.decode()

    assert f'id="jp-run-error">{run.error}<' in html
    assert "ERROR:" in html and "Pulling image" not in html


def test_every_panel_context_is_plain_data(synced, jp_sim, adapter):
    heartbeat = support.job_named(jp_sim, "heartbeat")
    build = Build.objects.filter(pipeline=support.pipeline_of(heartbeat)).first()
    contexts = [
        pipeline_panel(adapter, support.pipeline_of(heartbeat), Asked("logs-q=GET")),
        build_panel(adapter, build, Asked()),
        job_panel(adapter, build.jobs.get(), Asked()),
    ]
    for context in contexts:
        assert json.loads(json.dumps(context, cls=DjangoJSONEncoder))["panel"]
