"""Live pages poll with the marker they were drawn at: while nothing changed the answer
is 204 after one small query (the list's own query is not run); once a sync commits a
change, the next poll renders it. Quiet syncs leave the marker alone."""

from __future__ import annotations

import re

import pytest
from django.db import connection as db
from django.db import transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dashboard import freshness
from dashboard.models import Build, Connection
from dashboard.sync import sync_connection


def poll_url(response) -> str:
    return re.search(r'hx-get="([^"]+)"', response.content.decode()).group(1).replace("&amp;", "&")


def poll(client, url: str):
    with CaptureQueriesContext(db) as ctx:
        response = client.get(url, HTTP_HX_REQUEST="true")
    return response, [q["sql"] for q in ctx.captured_queries]


@pytest.fixture
def synced(semaphore, viewer_client):
    sync_connection(semaphore.pk)
    return semaphore


def test_the_builds_list_poll_answers_204_without_its_query_until_a_sync_changes_something(
    viewer_client, synced, semaphore_sim, clock
):
    page = viewer_client.get(reverse("builds"), {"state": "passed"}, HTTP_HX_REQUEST="true")
    url = poll_url(page)
    assert "state=passed" in url and "seen=" in url

    quiet, queries = poll(viewer_client, url)
    assert quiet.status_code == 204 and quiet.content == b""
    assert not [q for q in queries if "dashboard_build" in q], queries  # the filtered list was not asked
    assert len(queries) <= 3  # session, user, the marker

    sync_connection(synced.pk)  # nothing new at the provider: still nothing to redraw
    assert poll(viewer_client, url)[0].status_code == 204

    clock.advance(3600)  # new workflows arrive and finish
    sync_connection(synced.pk)
    fresh, _ = poll(viewer_client, url)
    assert fresh.status_code == 200
    newest = Build.objects.filter(state="passed").order_by("-created_at").first()
    assert f'data-external-id="{newest.external_id}"'.encode() in fresh.content
    assert poll_url(fresh) != url  # the new marker rides on the next poll
    assert poll(viewer_client, poll_url(fresh))[0].status_code == 204


def test_a_build_page_poll_follows_its_connection(viewer_client, synced, clock):
    clock.advance(31)
    sync_connection(synced.pk)
    running = Build.objects.filter(state__in=["queued", "running"]).first()
    page = viewer_client.get(running.get_absolute_url(), HTTP_HX_REQUEST="true")
    url = poll_url(page)
    assert poll(viewer_client, url)[0].status_code == 204
    clock.advance(3600)
    sync_connection(synced.pk)
    after, _ = poll(viewer_client, url)
    running.refresh_from_db()
    assert after.status_code == 200 and running.state.encode() in after.content


def test_health_shown_on_the_page_moves_the_marker(viewer_client, synced):
    url = poll_url(viewer_client.get(reverse("home"), HTTP_HX_REQUEST="true"))
    Connection.objects.filter(pk=synced.pk).update(health="unreachable", last_error="connection refused")
    assert poll(viewer_client, url)[0].status_code == 200


def test_a_stale_copy_saved_whole_does_not_put_an_old_revision_back(synced):
    stale = Connection.objects.get(pk=synced.pk)
    freshness.bump(synced.pk)
    stale.name = "renamed"
    stale.save()
    fresh = Connection.objects.get(pk=synced.pk)
    assert fresh.name == "renamed" and fresh.revision == stale.revision + 1


def test_a_first_page_without_htmx_or_marker_renders_in_full(viewer_client, synced):
    assert viewer_client.get(reverse("builds")).status_code == 200
    assert viewer_client.get(reverse("builds"), {"seen": "whatever"}).status_code == 200  # not htmx: the page
    assert viewer_client.get(reverse("builds"), {"seen": "old"}, HTTP_HX_REQUEST="true").status_code == 200


def test_a_batch_that_changes_rows_moves_the_marker_in_its_own_transaction(synced):
    from dashboard.apply import apply_batch
    from providers.base.records import Batch, ProjectRecord

    def revision() -> int:
        return Connection.objects.get(pk=synced.pk).revision

    before = revision()
    renamed = Batch(projects=[ProjectRecord("p-new", "a project the provider just made")])
    with pytest.raises(RuntimeError), transaction.atomic():
        apply_batch(synced, renamed)
        raise RuntimeError("the worker stopped before the batch committed")
    assert revision() == before  # neither the rows nor the marker
    apply_batch(synced, renamed)
    assert revision() == before + 1
    apply_batch(synced, renamed)  # the same again: nothing changed, nothing to redraw
    assert revision() == before + 1
