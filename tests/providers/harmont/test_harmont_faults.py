"""Harmont's own ways of going wrong, beyond the shared fault matrix
(docs/providers/harmont.md, "Faults"): a burst of 404s on build detail, listings that
repeat or never end, builds deleted while on the retry list, and cursors stored before
the shared scan."""

from __future__ import annotations

import pytest

from dashboard.models import Build, Connection, Job, Pipeline
from dashboard.states import FINISHED, State
from dashboard.sync import sync_connection
from providers.base.sim import Faults, Scale
from providers.harmont.client import HarmontClient
from providers.harmont.sim import HarmontSimulator
from tests.conftest import TOKEN, make_connection


@pytest.fixture
def sim(clock):
    sim = HarmontSimulator(TOKEN, seed=9, scale=Scale(projects=2, builds=4, jobs=4, arrival_every=10), clock=clock)
    sim.serve()
    yield sim
    sim.stop()


@pytest.fixture
def harmont(db, sim, believe_deletions_at_once):
    return make_connection(sim, "hm")


def retry_ids(connection: Connection) -> set[str]:
    connection.refresh_from_db()
    return {e["id"] for state in connection.sync_cursor["pipelines"].values() for e in state.get("retry", [])}


def held_by_harmont(sim) -> set[str]:
    return set(sim.truth()["builds"])


def test_a_burst_of_404s_on_build_detail_marks_nothing_gone_and_loses_no_new_build(harmont, sim, clock):
    sync_connection(harmont.pk)
    clock.advance(15)
    sync_connection(harmont.pk)
    running = set(Build.objects.exclude(state__in=FINISHED).values_list("external_id", flat=True))
    assert running, "the burst must meet builds we poll"

    sim.faults = Faults(not_found_rate=1.0)
    for _ in range(4):  # the burst outlasts the two syncs a deletion needs
        clock.advance(10)  # new builds arrive; their jobs cannot be read during the burst
        run = sync_connection(harmont.pk)
        assert "not found" in run.error
    assert not Build.objects.filter(gone=True).exists()
    assert not Build.objects.filter(external_id__in=running, state=State.UNKNOWN).exists()
    waiting = retry_ids(harmont)
    assert waiting and not Build.objects.filter(external_id__in=waiting).exists()

    sim.faults = Faults()
    sync_connection(harmont.pk)
    sync_connection(harmont.pk)

    assert retry_ids(harmont) == set()
    truth = sim.truth()
    assert set(Build.objects.values_list("external_id", flat=True)) == set(truth["builds"])
    assert {b.external_id: b.state for b in Build.objects.all()} == truth["builds"]
    assert dict(Job.objects.values_list("external_id", "state")) == truth["jobs"]


def test_a_build_deleted_while_on_the_retry_list_leaves_it_once_the_evidence_holds(harmont, sim, clock):
    sync_connection(harmont.pk)
    clock.advance(10)
    original = sim.list_jobs
    sim.list_jobs = lambda request, org, pipeline, number: sim.json({"data": "not a list"})
    sync_connection(harmont.pk)
    waiting = retry_ids(harmont)
    assert waiting
    sim.list_jobs = original
    for external_id in waiting:
        org, pipeline, number = external_id.split(":")
        del sim.orgs[org].pipelines[pipeline].builds[int(number)]

    sync_connection(harmont.pk)
    assert retry_ids(harmont) == waiting, "one 404 is not enough"
    sync_connection(harmont.pk)

    assert retry_ids(harmont) == set()
    assert not Build.objects.filter(external_id__in=waiting).exists()


def test_a_repeated_page_stops_the_scan_which_resumes_there(db, sim):
    sim.scale.arrival_every = 0
    connection = make_connection(sim, "hm", options={"page_size": 1, "backfill_pages": 10})
    sim.faults = Faults(repeated_page_rate=1.0)

    run = sync_connection(connection.pk)

    assert "same page" in run.error or "pointed back" in run.error
    assert Build.objects.filter(pipeline__external_id="acme:ci").count() == 1  # the first page only
    connection.refresh_from_db()
    assert connection.sync_cursor["pipelines"]["acme:ci"]["scan"]["next"]

    sim.faults = Faults()
    sync_connection(connection.pk)
    assert set(Build.objects.values_list("external_id", flat=True)) == held_by_harmont(sim)


def test_listings_that_never_end_are_cut_short_and_the_pipelines_we_hold_are_still_scanned(harmont, sim, clock):
    sync_connection(harmont.pk)
    sim.faults = Faults(endless_pages=1.0)
    clock.advance(10)

    run = sync_connection(harmont.pk)

    assert "same page of organizations twice" in run.error
    assert run.requests < 100
    assert set(Build.objects.values_list("external_id", flat=True)) == held_by_harmont(sim)
    assert Pipeline.objects.filter(gone=False).count() == 4


def test_a_cursor_stored_before_the_shared_scan_resumes_its_page_and_its_retry_list(db, sim):
    sim.scale.arrival_every = 0
    connection = make_connection(sim, "hm", options={"page_size": 1, "backfill_pages": 10})
    sync_connection(connection.pk)
    with HarmontClient(sim.url, TOKEN) as client:
        _, after_4 = client.builds_page("acme", "ci", limit=1)
    Build.objects.filter(external_id__in=["acme:ci:1", "acme:ci:2", "acme:ci:3", "globex:ci:2"]).delete()
    connection.refresh_from_db()
    cursor = connection.sync_cursor
    cursor["pipelines"]["acme:ci"] = {"scan": {"cursor": after_4, "top": 4, "pages": 1}}
    cursor["pipelines"]["globex:ci"]["retry"] = [2]
    Connection.objects.filter(pk=connection.pk).update(sync_cursor=cursor)
    sim.requests.clear()

    sync_connection(connection.pk)

    assert set(Build.objects.values_list("external_id", flat=True)) == held_by_harmont(sim)
    acme_pages = [r for r in sim.requests if r.path.endswith("/acme/pipelines/ci/builds")]
    assert acme_pages and all("cursor=" in r.query for r in acme_pages)  # resumed after #4
    assert retry_ids(connection) == set()


def test_an_empty_page_that_says_there_is_more_does_not_end_the_scan(db, sim):
    sim.scale.arrival_every = 0
    connection = make_connection(sim, "hm", options={"page_size": 1, "backfill_pages": 10})
    original = sim.list_builds

    def emptied_once(request, org, pipeline):
        answer = original(request, org, pipeline)
        if (org, pipeline) == ("acme", "ci") and "cursor" in request.args and not emptied:
            emptied.append(True)
            body = answer.get_json()
            return sim.json({**body, "data": []})
        return answer

    emptied: list[bool] = []
    sim.list_builds = emptied_once

    run = sync_connection(connection.pk)

    assert "an empty page that says there is more" in run.error
    assert Build.objects.filter(pipeline__external_id="acme:ci").count() == 1
    sync_connection(connection.pk)
    assert set(Build.objects.values_list("external_id", flat=True)) == held_by_harmont(sim)
