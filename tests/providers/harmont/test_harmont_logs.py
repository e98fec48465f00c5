"""Harmont job logs over the real SSE stream (docs/providers/harmont.md, "Logs"): replay,
live reading without blocking, resuming with Last-Event-ID, log tokens that expire,
stderr kept apart, and page views that never outlast their deadline."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import pytest

from dashboard import logstore
from dashboard.models import Job
from dashboard.states import State
from dashboard.sync import sync_connection
from providers.base.errors import AuthError, PermissionDenied
from providers.base.sim import Scale
from providers.harmont.adapter import PAGE_LOG_IDLE_SECONDS, HarmontAdapter
from providers.harmont.client import HarmontClient, LogTokenRefused
from providers.harmont.logstream import paint, render
from providers.harmont.sim import HarmontSimulator, world
from providers.harmont.sim.logs import chunk_json
from tests.conftest import TOKEN, make_connection

FAST = {"log_idle_seconds": 0.4, "log_max_seconds": 3}


@pytest.fixture
def sim(clock):
    sim = HarmontSimulator(
        TOKEN, seed=21, scale=Scale(projects=1, builds=2, jobs=4, arrival_every=0), clock=clock, heartbeat=0.2
    )
    sim.serve()
    yield sim
    sim.stop()


@pytest.fixture
def harmont(db, sim):
    return make_connection(sim, "hm", options=dict(FAST))


@pytest.fixture
def stream_headers(sim):
    """The headers of every log stream request, by job id."""
    seen: dict[str, list[dict]] = {}
    original = sim.log_stream

    def capture(request, job_id):
        seen.setdefault(job_id, []).append(dict(request.headers))
        return original(request, job_id)

    sim.log_stream = capture
    return seen


def long_build(sim, clock, ago: float = 0.0):
    """A new acme/ci build (created ``ago`` seconds ago) whose ``integration`` job runs
    40 s and whose ``unit`` job fails, so ``package`` never runs."""
    build = sim.create_build(
        sim.orgs["acme"].pipelines["ci"],
        branch="main",
        commit="f" * 40,
        message="Long",
        source="api",
        created=clock.now() - ago,
        outcomes={"setup": "passed", "lint": "passed", "unit": "failed", "integration": "passed", "package": "passed"},
        jobs=5,
    )
    for job in build.jobs:
        job.duration = 40.0 if job.step_key == "integration" else 3.0
    build.plan()
    return build, {job.step_key: job for job in build.jobs}


def expected(build, job, t: float) -> str:
    return render([chunk_json(c) for c in world.log_chunks(build, job, t)])


def stored_text(job: Job) -> str:
    return "".join(logstore.read(logstore.log_for(job)))


@contextmanager
def ticking(clock, rate: float):
    """Move the manual clock ``rate`` simulated seconds per real second, in the background."""
    stop = threading.Event()

    def run():
        while not stop.wait(0.02):
            clock.advance(rate * 0.02)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_a_finished_jobs_log_is_one_quick_replay_stored_complete(harmont, sim):
    sim.heartbeat = 120  # ``done`` would be minutes away: the replay alone must do
    sync_connection(harmont.pk)
    job = Job.objects.filter(build__external_id="acme:ci:1", state__in=[State.PASSED, State.FAILED]).first()
    build, planned = sim.jobs[job.external_id]
    logstore.log_for(job).delete()  # the sync stored it already; read it afresh
    sim.requests.clear()

    began = time.monotonic()
    log = logstore.refresh_log(job)

    assert time.monotonic() - began < 10, "it waited for ``done`` instead of taking the replay"
    assert log.complete and log.cursor == {"seq": len(world.log_chunks(build, planned, sim.now())) - 1, "done": True}
    assert stored_text(job) == expected(build, planned, sim.now())
    # The sync's log token is still good: one request, for the stream itself.
    assert [r.path for r in sim.requests] == [f"/v0/jobs/{job.external_id}/logs"]


def test_stderr_is_red_and_meta_is_dim_in_the_stored_log(harmont, sim):
    sync_connection(harmont.pk)
    job = Job.objects.filter(build__external_id="acme:ci:2").first()
    logstore.refresh_log(job)
    text = stored_text(job)
    assert "\x1b[2m--- runner h" in text and "$ make deps\n" in text
    for line in text.splitlines():
        if "warning:" in line or "error:" in line:
            assert line.startswith("\x1b[91m") and line.endswith("\x1b[0m"), line


def test_a_running_job_gives_what_is_there_then_resumes_after_the_last_event_id(harmont, sim, clock, stream_headers):
    build, jobs = long_build(sim, clock)
    integration = jobs["integration"]
    clock.advance(integration.start - clock.now() + 15)
    sync_connection(harmont.pk)
    job = Job.objects.get(external_id=integration.id)
    assert job.state == State.RUNNING

    began = time.monotonic()
    first = logstore.refresh_log(job)
    # Not a speed target: without its idle limit the read would wait for a job that, on
    # this hand-moved clock, never ends.
    assert time.monotonic() - began < 10, "a running job's log must not hold the caller"
    assert not first.complete and first.cursor["seq"] >= 1
    assert stored_text(job) == expected(build, integration, clock.now())
    assert "Last-Event-Id" not in stream_headers[integration.id][0]

    clock.advance(10)
    second = logstore.refresh_log(job)
    assert stream_headers[integration.id][1]["Last-Event-Id"] == str(first.cursor["seq"])
    assert not second.complete and second.cursor["seq"] > first.cursor["seq"]
    assert stored_text(job) == expected(build, integration, clock.now())  # nothing lost, nothing twice

    clock.advance(30)  # it ends; our row still says running, so the stream runs to ``done``
    third = logstore.refresh_log(job)
    assert third.complete and "token" not in third.cursor
    assert stored_text(job) == expected(build, integration, clock.now())
    assert stored_text(job).endswith("\x1b[2m--- exited with code 0\x1b[0m\n")


def test_a_dropped_stream_resumes_without_losing_or_repeating_output(harmont, sim, clock, stream_headers):
    build, jobs = long_build(sim, clock)
    integration = jobs["integration"]
    clock.advance(integration.start - clock.now() + 0.1)
    sync_connection(harmont.pk)
    job = Job.objects.get(external_id=integration.id)
    sim.drop_stream_after = 2  # the connection breaks after two live chunks

    with ticking(clock, rate=20):
        first = logstore.refresh_log(job)

    assert not first.complete
    dropped_at = first.cursor["seq"]
    sim.drop_stream_after = None
    clock.advance(60)
    final = logstore.refresh_log(job)

    assert stream_headers[integration.id][1]["Last-Event-Id"] == str(dropped_at)
    assert final.complete
    assert stored_text(job) == expected(build, integration, clock.now())


def test_an_expired_log_token_is_renewed_once(harmont, sim, clock):
    sim.log_token_ttl = 100
    _build, jobs = long_build(sim, clock)
    clock.advance(jobs["integration"].start - clock.now() + 5)
    sync_connection(harmont.pk)
    job = Job.objects.get(external_id=jobs["integration"].id)
    first = logstore.refresh_log(job)
    assert "token" not in first.cursor  # a credential: kept in the cache, never in the database

    clock.advance(150)  # Harmont's clock says the token has expired; ours does not know yet
    sim.requests.clear()
    second = logstore.refresh_log(job)

    assert [(r.path.rsplit("/", 1)[-1], r.status) for r in sim.requests] == [
        ("logs", 401),
        ("log-token", 200),
        ("logs", 200),
    ]
    assert second.cursor["seq"] > first.cursor["seq"] or second.complete


def test_a_token_near_its_expiry_is_replaced_before_use(harmont, sim, clock):
    sync_connection(harmont.pk)
    job = Job.objects.filter(build__external_id="acme:ci:2").first()
    from django.core.cache import cache

    key = f"harmont-log-token:{harmont.pk}:acme:ci:2"
    cache.set(key, {"token": "stale", "expires_at": "2020-01-01T00:00:00Z"})
    adapter = HarmontAdapter(harmont)
    sim.requests.clear()
    adapter.fetch_log(job, {})
    adapter.close()
    assert not [r for r in sim.requests if r.status == 401]
    assert sim.requests[0].path.endswith("/log-token")
    assert cache.get(key)["token"] != "stale"


def test_a_token_for_another_build_is_forbidden_and_not_an_auth_failure(sim):
    pipeline = sim.orgs["acme"].pipelines["ci"]
    with HarmontClient(sim.url, TOKEN) as client:
        token = client.log_token("acme", "ci", 1)["token"]
        with pytest.raises(LogTokenRefused) as refused:
            client.open_log_stream(pipeline.builds[2].jobs[0].id, token)
    assert isinstance(refused.value, PermissionDenied) and not isinstance(refused.value, AuthError)
    assert refused.value.details["code"] == "log_stream_forbidden"


def test_a_just_finished_job_is_complete_only_once_it_has_settled(harmont, sim, clock):
    sim.heartbeat = 30
    build, jobs = long_build(sim, clock, ago=60)  # ``integration`` ended about 15 s ago
    harmont.options["log_settle_seconds"] = 300
    harmont.save()
    sync_connection(harmont.pk)
    job = Job.objects.get(external_id=jobs["integration"].id)
    assert job.finished

    first = logstore.refresh_log(job)
    assert not first.complete and stored_text(job) == expected(build, jobs["integration"], clock.now())

    harmont.options["log_settle_seconds"] = 10
    harmont.save()
    job = Job.objects.select_related("connection", "build").get(pk=job.pk)
    final = logstore.refresh_log(job)
    assert final.complete
    assert stored_text(job) == expected(build, jobs["integration"], clock.now())


def test_heartbeats_alone_do_not_keep_a_fetch_waiting(harmont, sim, clock):
    sim.heartbeat = 0.05
    _build, jobs = long_build(sim, clock)
    clock.advance(jobs["integration"].start - clock.now() + 5)
    sync_connection(harmont.pk)
    job = Job.objects.get(external_id=jobs["integration"].id)
    logstore.refresh_log(job)

    began = time.monotonic()
    again = logstore.refresh_log(job)  # nothing new: only heartbeats come

    assert time.monotonic() - began < 10, "heartbeats kept the fetch waiting"
    assert not again.complete


def test_a_job_that_never_ran_has_an_empty_complete_log_without_asking(harmont, sim, clock):
    _build, jobs = long_build(sim, clock)
    clock.advance(60)
    sync_connection(harmont.pk)
    skipped = Job.objects.get(external_id=jobs["package"].id)  # ``unit`` failed, so it never ran
    assert skipped.state == State.SKIPPED
    sim.requests.clear()

    log = logstore.refresh_log(skipped)

    assert log.complete and log.size == 0 and sim.requests == []


def test_painting_wraps_each_stderr_line_and_reapplies_red_after_resets():
    assert paint("a\nb", 0) == "a\nb"
    assert paint("one\n\ntwo \x1b[1mbold\x1b[0m end", 1) == (
        "\x1b[91mone\x1b[0m\n\n\x1b[91mtwo \x1b[1mbold\x1b[0m\x1b[91m end\x1b[0m"
    )
    assert paint("--- note\n", 2) == "\x1b[2m--- note\x1b[0m\n"
    assert paint("odd kind\n", 7) == "odd kind\n"
    assert render([{"seq": 0, "stream_kind": 1, "content": None}, {"content": "x"}]) == "x"


def test_a_page_view_reads_a_running_jobs_log_within_its_own_short_bounds(harmont, sim, clock, settings):
    sim.heartbeat = 600  # nothing but the replay will come
    settings.PAGE_PROVIDER_SECONDS = 2
    harmont.options = {"log_idle_seconds": 30, "log_max_seconds": 30}  # the sync's bounds: long
    harmont.save()
    build, jobs = long_build(sim, clock)
    clock.advance(jobs["integration"].start - clock.now() + 15)
    sync_connection(harmont.pk)
    job = Job.objects.get(external_id=jobs["integration"].id)

    began = time.monotonic()
    log = logstore.refresh_log(job, interactive=True)

    # Not a speed target: the sync's bounds would hold this read for 30 s.
    assert time.monotonic() - began < 15, "a page view waited on the log stream"
    assert not log.complete
    assert stored_text(job) == expected(build, jobs["integration"], clock.now())


def test_log_stream_bounds_never_outlast_the_clients_deadline(harmont):
    harmont.options = {"log_idle_seconds": 5, "log_max_seconds": 20}
    sync = HarmontAdapter(harmont)
    page = HarmontAdapter(harmont, interactive=True)
    try:
        assert sync.stream_bounds() == (5, 20)
        idle, budget = page.stream_bounds()
        remaining = page.client.remaining()
        assert idle <= PAGE_LOG_IDLE_SECONDS and budget <= remaining
        page.client.deadline = time.monotonic() + 0.5
        assert max(page.stream_bounds()) <= 0.5
    finally:
        sync.close()
        page.close()
