"""The log viewer's server side: section markers, the line index over stored chunks, and
the endpoints that hand the browser a window of lines, the search hits and new output."""

import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboard import logindex, logsections, logstore
from dashboard.models import Build, Connection, Job, Log


@pytest.fixture
def job(db) -> Job:
    connection = Connection.objects.create(
        kind="semaphore", name="logs", slug="logs", base_url="http://127.0.0.1:9", token="t"
    )
    now = timezone.now()
    build = Build.objects.create(connection=connection, external_id="b1", state="failed", created_at=now)
    return Job.objects.create(
        connection=connection, build=build, external_id="j1", name="test", state="failed", finished_at=now
    )


def store(job: Job, *pieces: str, complete: bool = True):
    log = logstore.log_for(job)
    for piece in pieces:
        logstore.append(log, piece)
    log.complete = complete
    log.save()
    return log


def sectioned_log(steps: int = 30, lines: int = 50, failing: int = 7) -> str:
    out = []
    for step in range(1, steps + 1):
        out.append(logsections.start_marker(f"make step-{step}"))
        out += [f"\x1b[32mok\x1b[0m step {step} line {n} <b>&\n" for n in range(lines)]
        out.append(logsections.end_marker(1 if step == failing else 0, step + 0.25))
    return "".join(out)


def test_markers_read_back_what_was_written():
    assert logsections.parse(logsections.start_marker("make test")) == logsections.Marker("start", title="make test")
    end = logsections.parse(logsections.end_marker(2, 3.5))
    assert (end.kind, end.exit_code, end.seconds) == ("end", 2, 3.5)
    unknown = logsections.parse(logsections.end_marker())
    assert (unknown.exit_code, unknown.seconds) == (None, None)
    assert logsections.parse("plain output") is None
    assert logsections.strip("before " + logsections.start_marker("x").strip() + " after") == "before  after"


def test_gitlab_style_markers_are_read_too():
    start = logsections.parse("section_start:1700000000:build_step[collapsed=true]\r\x1b[0KBuilding it")
    end = logsections.parse("section_end:1700000042:build_step\r\x1b[0K")
    assert (start.kind, start.title, start.name, start.at) == ("start", "Building it", "build_step", 1700000000)
    assert (end.kind, end.name, end.at) == ("end", "build_step", 1700000042)


def test_the_index_numbers_lines_like_splitting_the_text(job):
    text = "".join(f"line {n} " + "x" * (n % 300) + "\n" for n in range(1, 5001)) + "unfinished"
    # Many small appends (the way a live log grows) and big ones (chunk boundaries mid-line).
    log = store(job, *(text[i : i + 7919] for i in range(0, len(text), 7919)))
    index = logindex.index_for(log)
    expected = text.split("\n")
    assert index.total_lines == len(expected) == 5001
    for first in (1, 2, 17, 999, 2500, 4990, 5001):
        assert logindex.read_lines(log, index, first, 12) == expected[first - 1 : first + 11]


def test_the_index_finds_sections_their_exit_codes_and_durations(job):
    log = store(job, sectioned_log())
    sections = logindex.index_for(log).section_dicts()
    assert len(sections) == 30
    first, failed = sections[0], sections[6]
    assert (first["start"], first["end"], first["title"]) == (1, 52, "make step-1")
    assert (first["exit"], first["seconds"]) == (0, 1.25)
    assert failed["failed"] and failed["exit"] == 1 and "failed" not in first
    assert logindex.read_lines(log, logindex.index_for(log), failed["start"] + 1, 1) == [
        "\x1b[32mok\x1b[0m step 7 line 0 <b>&"
    ]


def test_nested_unclosed_and_stray_markers(job):
    text = (
        logsections.start_marker("outer")
        + logsections.start_marker("inner")
        + "work\n"
        + logsections.end_marker(0, 1)
        + logsections.end_marker(3, 2)
        + logsections.end_marker(0, 1)  # closes nothing: ignored
        + logsections.start_marker("still running")
        + "more\n"
    )
    log = store(job, text, complete=False)
    outer, inner, running = logindex.index_for(log).section_dicts()
    assert (outer["start"], outer["end"], outer["exit"], outer.get("depth", 0)) == (1, 5, 3, 0)
    assert (inner["start"], inner["end"], inner["depth"]) == (2, 4, 1)
    assert running["open"] and running["end"] == 8


def test_a_marker_split_across_two_appends_is_found(job):
    text = "x" * 70000 + "\n" + logsections.start_marker("split") + "out\n" + logsections.end_marker(0, 1)
    cut = 70000 + 1 + 9  # inside the marker
    log = store(job, text[:cut], text[cut:])
    (section,) = logindex.index_for(log).section_dicts()
    assert (section["start"], section["title"], section["end"]) == (2, "split", 4)


def test_a_growing_log_is_indexed_incrementally_and_matches_a_fresh_index(job, django_assert_max_num_queries):
    text = sectioned_log(steps=60, lines=300)
    log = store(job, text[:200000], complete=False)
    logindex.index_for(log)
    logstore.append(log, text[200000:])
    log.save()
    with django_assert_max_num_queries(2):  # only the chunks from the last indexed one on
        grown = logindex.index_for(log)
    from django.core.cache import cache

    cache.clear()
    fresh = logindex.index_for(log)
    assert grown.total_lines == fresh.total_lines == text.count("\n")
    assert grown.section_dicts() == fresh.section_dicts()
    assert grown.marks == fresh.marks


def test_very_long_lines_are_cut_for_display(job):
    log = store(job, "short\n" + "y" * 20000 + "\nafter\n")
    lines = logindex.read_lines(log, logindex.index_for(log), 1, 3)
    assert lines[0] == "short" and lines[2] == "after"
    assert lines[1].startswith("y" * logindex.MAX_LINE_CHARS) and "raw log" in lines[1]


def url(name: str, job: Job) -> str:
    return reverse(name, args=[job.connection.kind, job.connection.slug, job.external_id])


def test_the_job_page_renders_the_end_of_the_log_with_line_anchors(viewer_client, job):
    store(job, "".join(f"line {n}\n" for n in range(1, 1001)))
    page = viewer_client.get(url("job", job)).content.decode()
    assert 'id="L1000"' in page and 'href="#L1000"' in page and "line 1000" in page
    assert 'id="L1"' not in page  # the start is loaded by the viewer when scrolled to
    assert 'data-total="1000"' in page


def test_the_lines_endpoint_returns_a_window(viewer_client, job):
    store(job, sectioned_log(steps=3, lines=5))
    data = viewer_client.get(url("job-log-lines", job), {"from": 2, "count": 3}).json()
    assert data["from"] == 2 and data["total"] == 21
    assert data["lines"][0] == '<span class="ansi32">ok</span> step 1 line 0 &lt;b&gt;&amp;'
    assert len(data["lines"]) == 3
    marker_line = viewer_client.get(url("job-log-lines", job), {"from": 1, "count": 1}).json()["lines"]
    assert marker_line == [""]  # the marker itself is not shown as text
    huge = viewer_client.get(url("job-log-lines", job), {"from": "x", "count": 10**9}).json()
    assert huge["from"] == 1 and len(huge["lines"]) == 21


def test_the_search_endpoint_lists_line_numbers(viewer_client, job):
    store(job, "alpha\nBeta\ngamma beta\n")
    assert viewer_client.get(url("job-log-search", job), {"q": "beta"}).json()["matches"] == [2, 3]
    assert viewer_client.get(url("job-log-search", job), {"q": ""}).json()["matches"] == []


def test_the_sections_reach_the_page_and_the_tail(viewer_client, job):
    store(job, sectioned_log(steps=2, lines=3), complete=False)
    page = viewer_client.get(url("job", job)).content.decode()
    sections = json.loads(re.search(r'<script id="log-sections" type="application/json">(.*?)</script>', page).group(1))
    assert [s["title"] for s in sections] == ["make step-1", "make step-2"]
    tail = viewer_client.get(url("job-log-tail", job), {"line": 9}, HTTP_HX_REQUEST="true").content.decode()
    assert 'data-n="9"' in tail and 'data-n="8"' not in tail
    assert "make step-2" in tail  # the sections, for the viewer to fold what arrived
    seen = re.search(r"&amp;s=([\d.]+)", tail).group(1)
    again = viewer_client.get(url("job-log-tail", job), {"line": 10, "s": seen}, HTTP_HX_REQUEST="true")
    assert b"data-sections" not in again.content  # unchanged: not sent again


@pytest.mark.parametrize("kind", ["semaphore", "harmont", "prunner", "jobsplatform"])
def test_a_job_page_never_asks_the_provider_before_it_answers(viewer_client, db, kind):
    """The page renders from what is stored; the tail request asks the provider after."""
    from dashboard.sync import sync_connection
    from providers.base.sim import Clock, Scale
    from providers.registry import simulator_class

    clock = Clock(manual=True)
    sim = simulator_class(kind)(
        f"{kind}-token-0123456789abcdef",
        seed=2,
        scale=Scale(projects=1, builds=3, jobs=2, arrival_every=20),
        clock=clock,
    ).serve()
    try:
        connection = Connection.objects.create(
            kind=kind, name=kind, slug=kind, base_url=sim.url, token=sim.token, options=sim.connection_options()
        )
        sync_connection(connection.pk)
        clock.advance(25)
        sync_connection(connection.pk)
        job = Job.objects.filter(connection=connection).order_by("-state").first()
        jobs = [job, *Job.objects.filter(connection=connection, state__in=["running", "queued"])[:1]]
        for shown in jobs:
            Log.objects.filter(job=shown).delete()  # nothing stored: the provider would have to be asked
            sim.requests.clear()
            page = viewer_client.get(url("job", shown))
            assert page.status_code == 200
            assert sim.requests == [], [r.path for r in sim.requests]
            assert b"job-log/" in page.content  # the tail will ask, after the page is shown
    finally:
        sim.stop()


def test_a_progress_bar_line_shows_what_a_terminal_shows_last(viewer_client, job):
    store(job, "download 10%\rdownload 55%\rdownload 100%\r\nwindows line\r\n")
    lines = viewer_client.get(url("job-log-lines", job), {"from": 1, "count": 2}).json()["lines"]
    assert lines == ["download 100%", "windows line"]
