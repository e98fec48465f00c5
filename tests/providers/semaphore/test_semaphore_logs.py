"""Semaphore job logs (docs/providers/semaphore.md, "Job logs"): each command in a
section marked with its exit code and duration, and the log-store redirect of jobs on
self-hosted agents, followed only to the connection's own origin or to origins it lists
(``log_origins``), never elsewhere, and never a 500."""

import pytest
from django.urls import reverse

from dashboard import logstore
from dashboard.logsections import end_marker, parse, start_marker
from dashboard.models import Job, Log
from dashboard.sync import sync_connection
from providers.base.errors import BadResponse
from providers.semaphore.adapter import SemaphoreAdapter
from providers.semaphore.logs import render_events
from providers.semaphore.sim import SemaphoreSimulator
from tests.conftest import TOKEN

from .support import running_job

V1 = "/api/v1alpha"
EVENTS = [
    {"event": "job_started", "timestamp": 100},
    {"event": "cmd_started", "timestamp": 100, "directive": "checkout"},
    {"event": "cmd_output", "timestamp": 101, "output": "HEAD is now at 4f1e2d3\n"},
    {
        "event": "cmd_finished",
        "timestamp": 102,
        "directive": "checkout",
        "exit_code": 0,
        "started_at": 100,
        "finished_at": 102,
    },
    {"event": "cmd_started", "timestamp": 102, "directive": "make test"},
    {"event": "cmd_output", "timestamp": 103, "output": "FAIL test_login\n"},
    {
        "event": "cmd_finished",
        "timestamp": 109,
        "directive": "make test",
        "exit_code": 2,
        "started_at": 102,
        "finished_at": 109,
    },
    {"event": "job_finished", "timestamp": 109, "result": "failed"},
]


def test_each_command_is_a_section_with_its_exit_code_and_duration():
    text = render_events(EVENTS)
    markers = [m for m in map(parse, text.splitlines()) if m is not None]

    assert text.index(start_marker("$ checkout")) < text.index("HEAD is now")
    assert text.index("HEAD is now") < text.index(end_marker(0, 2))
    assert start_marker("$ make test") in text and end_marker(2, 7) in text
    assert "\x1b[31mexit code 2\x1b[0m" in text and "Job failed" in text
    assert [(m.kind, m.title, m.exit_code, m.seconds) for m in markers] == [
        ("start", "$ checkout", None, None),
        ("end", "", 0, 2.0),
        ("start", "$ make test", None, None),
        ("end", "", 2, 7.0),
    ]


def test_a_log_read_in_pieces_has_the_same_sections():
    whole = render_events(EVENTS)
    pieces = render_events(EVENTS[:3]) + render_events(EVENTS, 3)

    assert pieces == whole


def test_a_finished_jobs_stored_log_carries_the_sections(synced, semaphore_sim):
    job = Job.objects.filter(state__in=["passed", "failed"]).first()

    log = logstore.refresh_log(job)

    text = "".join(logstore.read(log))
    assert log.complete
    commands = text.count("\x1b]ci-section;start;")
    assert commands >= 4 and text.count("\x1b]ci-section;end;") == commands
    assert "$ Exporting environment variables" in text


@pytest.fixture
def redirecting(synced, semaphore_sim):
    """Every job's log now answers with the log store's redirect; the logs the sync
    stored are forgotten, so pages fetch them again."""
    semaphore_sim.all_logs_redirect = True
    Log.objects.all().delete()
    return semaphore_sim


def tail(client, connection, job):
    """What the job page's log tail asks for (the page itself renders from the database)."""
    return client.get(reverse("job-log-tail", args=["semaphore", connection.slug, job.external_id]))


def test_a_self_hosted_jobs_log_is_fetched_from_the_log_store_on_semaphores_own_host(
    synced, redirecting, viewer_client
):
    job = Job.objects.filter(state__in=["passed", "failed"]).first()
    redirecting.requests.clear()

    page = tail(viewer_client, synced, job)

    assert page.status_code == 200
    paths = [r.path for r in redirecting.requests]
    asked = (f"{V1}/logs/{job.external_id}", f"/api/v2/jobs/{job.external_id}/log_events")  # either jobs API
    assert paths[0] in asked and paths[1:] == [f"/api/v1/logs/{job.external_id}"]
    assert [r.status for r in redirecting.requests] == [302, 200]
    assert "jwt=" in redirecting.requests[1].query
    stored = "".join(logstore.read(job.log))
    assert job.log.complete and "\x1b]ci-section;start;" in stored and "Could not fetch" not in page.content.decode()


def test_a_running_self_hosted_job_is_tailed_through_the_log_store(synced, redirecting, clock):
    job = running_job(redirecting, clock, synced)
    adapter = SemaphoreAdapter(synced)
    try:
        first = adapter.fetch_log(job, {})
        clock.advance(job.duration.total_seconds() if job.duration else 40)
        clock.advance(40)
        rest = adapter.fetch_log(job, first.cursor)
    finally:
        adapter.close()

    assert not first.complete and rest.complete
    assert first.text and rest.text and not rest.text.startswith(first.text)


@pytest.fixture
def elsewhere(clock):
    """Another server on loopback, standing for an address nobody should be sent to."""
    other = SemaphoreSimulator(TOKEN, seed=7, clock=clock).serve()
    yield other
    other.stop()


def test_a_redirect_to_another_origin_is_refused_in_words_and_never_fetched(
    synced, redirecting, elsewhere, admin_client_
):
    redirecting.log_redirect_to = f"{elsewhere.url}/latest/meta-data"
    job = Job.objects.filter(state__in=["passed", "failed"]).first()

    adapter = SemaphoreAdapter(synced)
    with pytest.raises(BadResponse, match="neither this connection's address nor one of its log_origins"):
        adapter.fetch_log(job, {})
    adapter.close()
    page = tail(admin_client_, synced, job)  # admins read the provider's words

    assert page.status_code == 200
    assert "was not fetched" in page.content.decode() and elsewhere.url.replace("http://", "") in page.content.decode()
    assert elsewhere.requests == []


def test_an_origin_the_connection_lists_is_followed_without_our_token(synced, redirecting, elsewhere):
    seen = {}
    original = elsewhere.log_store

    def log_store(request, job_id):
        seen.update(request.headers)
        return original(request, job_id)

    elsewhere.log_store = log_store
    redirecting.log_redirect_to = f"{elsewhere.url}/api/v1/logs/placeholder"
    synced.options = {"log_origins": [elsewhere.url]}
    synced.save()
    job = Job.objects.filter(state__in=["passed", "failed"]).first()
    redirecting.log_redirect_to = f"{elsewhere.url}/api/v1/logs/{job.external_id}"

    adapter = SemaphoreAdapter(synced)
    try:
        piece = adapter.fetch_log(job, {})
    finally:
        adapter.close()

    assert piece.complete and "\x1b]ci-section;start;" in piece.text
    assert seen and "Authorization" not in seen


def test_an_unreachable_log_store_is_a_message_on_the_page_not_an_error(synced, redirecting, admin_client_):
    synced.options = {"log_origins": ["http://127.0.0.1:9"]}
    synced.save()
    redirecting.log_redirect_to = "http://127.0.0.1:9/latest/meta-data"
    job = Job.objects.filter(state__in=["passed", "failed"]).first()

    page = tail(admin_client_, synced, job)

    assert page.status_code == 200
    assert "Could not fetch the log" in page.content.decode()


def test_a_sync_does_not_follow_a_log_elsewhere_either(semaphore, semaphore_sim, elsewhere):
    semaphore_sim.all_logs_redirect = True
    semaphore_sim.log_redirect_to = f"{elsewhere.url}/latest/meta-data"

    run = sync_connection(semaphore.pk)

    assert run is not None and elsewhere.requests == []
