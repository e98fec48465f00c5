"""The freshness benchmark's own parts: reading the builds list as its htmx poll does,
matching what the page showed to when things happened at the provider, and the
simulator's record of those moments."""

from __future__ import annotations

import httpx
import pytest
from django.db import connection as db
from django.urls import reverse

from dashboard.benchmarks import freshness
from dashboard.benchmarks.freshness import Event, Seen, match, parse_rows, poll_url, stages
from dashboard.models import Build
from dashboard.sync import sync_connection
from providers.base.sim import EVENTS_PATH, Scale
from providers.prunner.sim import PrunnerSimulator


def test_a_new_build_counts_from_its_arrival_to_the_first_answer_that_shows_it():
    events = [Event("a", arrived=10.0, finished=20.0), Event("b", arrived=12.0, finished=None)]
    seen = [
        Seen(11.0, {"old": "passed"}),
        Seen(13.5, {"a": "running"}),
        Seen(16.0, {"a": "running", "b": "queued"}),
        Seen(24.0, {"a": "failed", "b": "running"}),
    ]
    found = match(events, seen, start=0, end=100)
    assert found.arrived == [3.5, 4.0]
    assert found.finished == [4.0]  # the first answer with a final state, not the first after the finish
    assert (found.arrivals_missed, found.finishes_missed) == (0, 0)


def test_only_changes_inside_the_window_count_and_unshown_ones_are_missed():
    events = [
        Event("before", arrived=1.0, finished=15.0),  # arrived before, finished inside
        Event("inside", arrived=12.0, finished=50.0),  # arrived inside, finished after
        Event("never", arrived=14.0, finished=None),
    ]
    seen = [Seen(2.0, {"before": "running"}), Seen(16.0, {"before": "passed", "inside": "running"})]
    found = match(events, seen, start=10, end=40)
    assert found.arrived == [4.0]
    assert found.finished == [1.0]
    assert (found.arrivals_missed, found.finishes_missed) == (1, 0)


def test_each_delay_is_split_at_the_first_sync_that_began_after_the_change():
    changes = [(10.0, 16.5), (12.0, 16.5), (21.0, 30.0)]
    waits, rest = stages(changes, sync_starts=[15.0, 9.0, 20.0])
    assert waits == [5.0, 3.0]  # the third change's sync (none began after 21) is left out
    assert rest == [1.5, 1.5]


def test_the_builds_list_is_read_and_polled_as_its_htmx_does(viewer_client, semaphore):
    sync_connection(semaphore.pk)
    page = viewer_client.get(reverse("builds"))
    rows = parse_rows(page.content.decode())
    held = dict(Build.objects.order_by("-created_at", "-id").values_list("external_id", "state")[:50])
    assert rows == held and rows
    url = poll_url(page.content.decode())
    assert url.startswith(reverse("builds") + "?") and "seen=" in url
    assert viewer_client.get(url, HTTP_HX_REQUEST="true").status_code == 204


def test_the_simulator_says_when_each_build_arrived_and_finished(clock):
    sim = PrunnerSimulator("prunner-secret-0123456789", seed=3, scale=Scale(builds=20, arrival_every=5), clock=clock)
    with sim.serve().stop_after():
        start = clock.now()
        clock.advance(6)  # one job arrives (5 s after the start) and runs
        events = {e["id"]: e for e in httpx.get(sim.url + EVENTS_PATH).json()}  # no token: not the provider's API
        new = [e for e in events.values() if e["arrived"] > start]
        assert len(new) == 1 and new[0]["arrived"] == start + 5 and new[0]["finished"] is None
        job = sim.world.jobs[new[0]["id"]]
        clock.advance(120)
        finished = {e["id"]: e["finished"] for e in httpx.get(sim.url + EVENTS_PATH).json()}
        assert finished[job.id] == job.run.end and start + 5 < job.run.end < clock.now()
        assert all(e["arrived"] <= start for e in events.values() if e["id"] != job.id)  # the seeded history


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_freshness_section_measures_a_short_window_end_to_end(settings):
    # Simulator, beat, a worker and gunicorn in processes of their own, as `bench` runs
    # it; only what holds on a busy machine is checked, not the figures.
    if db.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("needs PostgreSQL and Redis")
    new, finished, split = freshness.figures(quick=True)
    assert new.measure == "freshness: new build on screen" and "builds x 4 pages" in new.figure, new
    assert finished.measure == "freshness: finished build on screen"
    assert "to the next sync's start" in split.figure and "syncs began" in split.method
