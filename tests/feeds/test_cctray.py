"""/cctray.xml, read by BuildNotify's own feed reader over real HTTP, says for every
pipeline x branch what the stored builds say."""

from datetime import datetime
from xml.etree import ElementTree

import pytest
from buildnotifylib.adapters.http import HttpConnection
from buildnotifylib.core.cctray import CctraySource
from buildnotifylib.core.model import Activity, Status
from buildnotifylib.core.ports import FetchError
from buildnotifylib.core.settings import ServerSettings
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dashboard.models import Build, FeedToken, Schedule
from dashboard.sync import sync_connection
from tests.conftest import make_connection

from . import expected

FEED = "/cctray.xml"


def buildnotify(url: str, token: str = "") -> list:
    """BuildNotify's own fetch-and-parse of a cctray server, as its tray poller runs it."""
    server = ServerSettings(url=url, authentication_type=ServerSettings.AUTH_BEARER_TOKEN, password=token)
    return CctraySource(server, timeout=10, connection=HttpConnection()).fetch()


def projects(response) -> dict[str, dict]:
    root = ElementTree.fromstring(response.content)
    assert root.tag == "Projects"
    return {p.get("name"): p.attrib for p in root.findall("Project")}


@pytest.mark.django_db(transaction=True)
def test_buildnotify_reads_every_pipeline_and_branch_as_the_builds_say(live_server, synced, make_token):
    want = expected.pairs()
    assert len({w["activity"] for w in want.values()}) > 1, "the sample has idle and active pairs"
    assert {w["status"] for w in want.values()} == {"Success", "Failure"}, "the sample has both results"

    got = {p.name: p for p in buildnotify(f"{live_server.url}{FEED}", make_token())}

    assert set(got) == set(want)
    for name, project in got.items():
        w = want[name]
        assert project.status == Status(w["status"]), name
        assert project.activity == Activity(w["activity"]), name
        assert project.last_build_label == w["label"], name
        assert project.build_time == w["time"].replace(microsecond=0), name
        assert project.build_time.utcoffset() is not None, "ISO 8601 with an offset"
        newest = w["newest"]
        assert project.url == live_server.url + reverse(
            "build", args=[newest.connection.kind, newest.connection.slug, newest.external_id]
        )


@pytest.mark.django_db(transaction=True)
def test_buildnotify_without_a_valid_token_gets_401_and_nothing_else(live_server, synced, make_token):
    secret = make_token()
    FeedToken.objects.update(revoked_at="2026-01-01T00:00:00Z")
    for token in ("", secret, "cif_not-a-token", "x" * 500):
        with pytest.raises(FetchError) as refused:
            buildnotify(f"{live_server.url}{FEED}", token)
        assert refused.value.status == 401


def test_the_feed_answers_401_without_a_login_or_token_and_shows_no_names(client, synced):
    response = client.get(FEED)
    assert response.status_code == 401
    assert "Bearer" in response["WWW-Authenticate"]
    assert b"api" not in response.content and b"Project" not in response.content


def test_a_token_in_the_query_or_as_basic_auth_password_opens_the_feed(client, synced, make_token):
    secret = make_token()
    assert client.get(FEED, {"token": secret}).status_code == 200
    import base64

    basic = "Basic " + base64.b64encode(f"ccmenu:{secret}".encode()).decode()
    assert client.get(FEED, HTTP_AUTHORIZATION=basic).status_code == 200
    assert FeedToken.objects.get().last_used_at is not None


def test_a_token_shows_only_its_scope(client, synced, make_token):
    pipeline = Build.objects.filter(branch="main").select_related("pipeline").first().pipeline
    secret = make_token(pipeline=pipeline, branch="main")

    shown = projects(client.get(FEED, {"token": secret}))

    assert set(shown) == set(expected.pairs(pipeline=pipeline, branch="main"))
    assert len(shown) == 1
    # Filters cannot widen a scope: asking for another branch gives an empty feed.
    assert projects(client.get(FEED, {"token": secret, "branch": "release/1.4"})) == {}


def test_filters_narrow_the_feed(viewer_client, synced):
    build = Build.objects.filter(branch="main").select_related("project", "pipeline", "connection").first()
    cases = [
        ({"branch": "main"}, {"branch": "main"}),
        ({"branch": ["main", "release/1.4"]}, {"branch__in": ["main", "release/1.4"]}),
        ({"project": build.project.name}, {"project": build.project}),
        ({"pipeline": build.pipeline.external_id}, {"pipeline": build.pipeline}),
        ({"connection": synced.slug}, {"connection": synced}),
        ({"connection": "no-such-connection"}, {"connection__slug": "no-such-connection"}),
    ]
    for params, lookup in cases:
        assert set(projects(viewer_client.get(FEED, params))) == set(expected.pairs(**lookup)), params


def test_scheduled_pipelines_carry_their_next_build_time(viewer_client, db):
    from providers.base.sim import Clock, Scale
    from providers.jobsplatform.sim import JobsPlatformSimulator

    sim = JobsPlatformSimulator("tok", seed=4, scale=Scale(projects=1, builds=3, jobs=4), clock=Clock(manual=True))
    sim.serve()
    try:
        jp = make_connection(sim, "jp", options=sim.connection_options())
        sync_connection(jp.pk)
    finally:
        sim.stop()

    shown = projects(viewer_client.get(FEED, {"connection": "jp"}))

    scheduled = {s.pipeline.name: s.next_run_at for s in Schedule.objects.select_related("pipeline")}
    assert scheduled, "the sample has cron jobs"
    for name, attributes in shown.items():
        pipeline_name = name.split(" / ")[2]
        if pipeline_name in scheduled:
            assert datetime.fromisoformat(attributes["nextBuildTime"]) == scheduled[pipeline_name].replace(
                microsecond=0
            )
        else:
            assert "nextBuildTime" not in attributes


def test_the_feed_costs_the_same_queries_however_many_builds(viewer_client, synced, clock):
    def count() -> tuple[int, int]:
        with CaptureQueriesContext(db) as queries:
            response = viewer_client.get(FEED)
        return len(queries), len(projects(response))

    before, shown_before = count()
    for _ in range(6):
        clock.advance(120)
        sync_connection(synced.pk)
    after, shown_after = count()

    assert Build.objects.count() > 2 * shown_before
    assert after == before
    assert shown_after >= shown_before


def test_an_unchanged_feed_answers_304_to_its_etag(viewer_client, synced):
    first = viewer_client.get(FEED)
    assert first["Cache-Control"].startswith("max-age=60") and "private" in first["Cache-Control"]
    again = viewer_client.get(FEED, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""


def test_head_requests_get_the_headers_without_the_feed(client, synced, make_token):
    response = client.head(FEED, {"token": make_token()})
    assert response.status_code == 200 and response["ETag"] and response.content == b""
