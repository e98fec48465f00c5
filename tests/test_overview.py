"""The overview home, the wallboard and the favicon's state, on builds stored directly
(lanes are pipeline x branch; red means the newest result failed)."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboard.models import Build, Connection, Pipeline, Project
from dashboard.models.connections import Health


@pytest.fixture
def world(db):
    """Two connections; lanes: shop/main red for two builds (broken by ann), shop/dev
    green, api/main running after a pass, and an unhealthy connection's lane."""
    now = timezone.now()
    acme = Connection.objects.create(
        kind="semaphore",
        name="Acme",
        slug="acme",
        base_url="http://127.0.0.1:9",
        token="t",
        health=Health.OK,
        last_synced_at=now - timedelta(seconds=12),
    )
    other = Connection.objects.create(
        kind="harmont",
        name="Other",
        slug="other",
        base_url="http://127.0.0.1:9",
        token="t",
        health=Health.UNREACHABLE,
        last_error="connection refused",
        last_synced_at=now - timedelta(minutes=3),
    )
    shop = Project.objects.create(connection=acme, external_id="p-shop", name="shop")
    ci = Pipeline.objects.create(connection=acme, project=shop, external_id="pl-ci", name="shop-ci")
    api = Pipeline.objects.create(connection=acme, project=shop, external_id="pl-api", name="api-ci")
    nightly = Pipeline.objects.create(connection=other, external_id="pl-n", name="nightly")

    def build(external_id, pipeline, branch, state, minutes_ago, by="", took=60, connection=acme):
        created = now - timedelta(minutes=minutes_ago)
        started = created + timedelta(seconds=5)
        finished = started + timedelta(seconds=took) if state in ("passed", "failed", "canceled") else None
        return Build.objects.create(
            connection=connection,
            project=pipeline.project,
            pipeline=pipeline,
            external_id=external_id,
            title=f"{external_id} title",
            branch=branch,
            state=state,
            created_at=created,
            started_at=started,
            finished_at=finished,
            triggered_by=by,
        )

    build("b1", ci, "main", "passed", 100, "zed")
    build("b2", ci, "main", "failed", 80, "ann")
    build("b3", ci, "main", "canceled", 70, "bob")
    build("b4", ci, "main", "failed", 60, "bob")
    build("b5", ci, "dev", "passed", 50, "cy")
    build("b6", api, "main", "passed", 40, "dee")
    build("b7", api, "main", "running", 2, "dee")
    build("b8", nightly, "", "passed", 300, connection=other)
    return {"acme": acme, "other": other, "now": now}


def test_the_home_page_shows_health_running_red_and_counts(viewer_client, world):
    page = viewer_client.get(reverse("home")).content.decode()
    assert "<title>Overview" in page
    assert f'href="{reverse("builds")}"' in page  # all builds one click away
    health = page[page.index("health-cards") : page.index('class="counts"')]
    assert "Acme" in health and "synced" in health and "Other" in health and "trouble: unreachable" in health
    running = page[page.index('id="running-heading"') : page.index('id="red-now"')]
    assert "b7 title" in running and "data-elapsed" in running and "b4 title" not in running
    red = page[page.index('id="red-now"') : page.index('id="lanes-heading"')]
    assert "shop-ci" in red and "main" in red
    assert "broken by ann" in red and "latest by bob" in red  # ann broke it (b2), bob's b4 is the newest failure
    assert "2 failed builds in a row" in red
    assert "api-ci" not in red and "dev" not in red
    counts = page[page.index('class="counts"') : page.index('class="overview-grid"')]
    assert re.search(r'count-n">1</span> red', counts) and re.search(r'count-n">1</span> running', counts)


def test_the_home_page_refresh_answers_no_change_until_a_sync_commits_one(viewer_client, world):
    from dashboard import freshness

    live = viewer_client.get(reverse("home"), HTTP_HX_REQUEST="true")
    assert live.status_code == 200 and b'hx-trigger="every 1s"' in live.content and b"<html" not in live.content
    poll = re.search(r'hx-get="([^"]+)"', live.content.decode()).group(1).replace("&amp;", "&")
    assert viewer_client.get(poll, HTTP_HX_REQUEST="true").status_code == 204  # nothing new: htmx keeps the page
    Build.objects.filter(state="running").update(state="passed", finished_at=world["now"])
    freshness.bump(world["acme"].pk)  # what a sync does once it commits a batch
    done = viewer_client.get(poll, HTTP_HX_REQUEST="true")
    assert done.status_code == 200 and b"Nothing is running" in done.content
    assert b'hx-trigger="every 1s"' in done.content  # still polling: a new build would show at once


def test_an_empty_dashboard_says_what_to_do(client, db, admin_user, viewer):
    client.force_login(admin_user)
    page = client.get(reverse("home")).content.decode()
    assert "No connections yet" in page and reverse("admin:dashboard_connection_add") in page
    client.force_login(viewer)
    page = client.get(reverse("home")).content.decode()
    assert "Ask an admin" in page and reverse("admin:dashboard_connection_add") not in page
    builds = client.get(reverse("builds")).content.decode()
    assert "ask an admin to add one" in builds


def tiles(page: str) -> dict[str, str]:
    found = re.findall(
        r'<li class="tile tile-(\w+)[^"]*" data-lane-state="\w+">\s*<a[^>]*>\s*'
        r'(?:<span class="tile-project">[^<]*</span>\s*)?'
        r'<span class="tile-name">([^<]+)</span>\s*<span class="tile-branch">([^<]+)</span>',
        page,
    )
    return {f"{name}/{branch}": colour for colour, name, branch in found}


def test_the_wallboard_shows_a_tile_per_pipeline_and_branch(viewer_client, world):
    page = viewer_client.get(reverse("wall")).content.decode()
    assert tiles(page) == {
        "shop-ci/main": "red",
        "api-ci/main": "running",
        "nightly/(no branch)": "green",
        "shop-ci/dev": "green",
    }
    assert 'class="top"' not in page and "Log out" not in page  # no navigation chrome
    assert "tile-was-green" in page  # api-ci runs after a pass
    assert "broken by ann" in page
    stale = page[page.index("nightly") :]
    assert "Other: unreachable" in stale[: stale.index("</li>")] and "may be out of date" in stale
    assert 'hx-trigger="every 10s"' in page


def test_the_wallboard_filters_live_in_the_address(viewer_client, world):
    by_pipeline = tiles(viewer_client.get(reverse("wall"), {"pipeline": "shop-ci"}).content.decode())
    assert set(by_pipeline) == {"shop-ci/main", "shop-ci/dev"}
    by_branch = tiles(viewer_client.get(reverse("wall"), {"branch": "ma", "connection": "acme"}).content.decode())
    assert set(by_branch) == {"shop-ci/main", "api-ci/main"}
    partial = viewer_client.get(reverse("wall"), {"project": "shop"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and set(tiles(partial)) == {"shop-ci/main", "shop-ci/dev", "api-ci/main"}
    assert "project: shop" in partial
    bad = viewer_client.get(reverse("wall"), {"connection": "nope"}).content.decode()
    assert "not understood" in bad


def test_the_favicon_state_follows_the_builds(viewer_client, world):
    from django.core.cache import cache

    def state() -> str:
        cache.clear()
        return viewer_client.get(reverse("status")).json()["state"]

    assert state() == "red"
    Build.objects.filter(external_id="b4").update(state="passed")
    assert state() == "running"
    Build.objects.filter(state="running").update(state="passed")
    assert state() == "green"
    Build.objects.all().delete()
    assert state() == "unknown"


def test_the_builds_list_shows_when_a_build_started_and_how_long_it_runs(viewer_client, world):
    page = viewer_client.get(reverse("builds")).content.decode()
    b7 = Build.objects.get(external_id="b7")
    row = page[page.index('data-external-id="b7"') :]
    row = row[: row.index("</tr>")]
    assert f'datetime="{b7.started_at.isoformat()}" data-relative' in row  # started, not created
    assert f'datetime="{b7.created_at.isoformat()}"' not in row
    assert f'<time datetime="{b7.started_at.isoformat()}" data-elapsed' in row  # running: elapsed, ticking


def test_the_branch_filter_matches_a_prefix_and_projects_are_suggested(viewer_client, world):
    page = viewer_client.get(reverse("builds"), {"branch": "DE"}).content.decode()
    assert re.findall(r'data-external-id="(\w+)"', page) == ["b5"]
    assert 'list="project-names"' in page and '<datalist id="project-names"><option value="shop">' in page


def test_old_links_to_the_filtered_builds_list_still_work(viewer_client, world):
    response = viewer_client.get(reverse("home"), {"state": "failed", "branch": "main"})
    assert response.status_code == 302
    assert response["Location"] == reverse("builds") + "?state=failed&branch=main"


def test_a_soft_failed_job_is_amber_in_the_timeline_too(viewer_client, world):
    from dashboard.models import Job

    build = Build.objects.get(external_id="b4")
    for n, allowed in enumerate([False, True]):
        Job.objects.create(
            connection=build.connection,
            build=build,
            external_id=f"j{n}",
            name=f"job {n}",
            state="failed",
            started_at=build.started_at,
            finished_at=build.finished_at,
            allowed_failure=allowed,
        )
    page = viewer_client.get(reverse("build", args=["semaphore", "acme", "b4"])).content.decode()
    bars = re.findall(r'<rect class="tl-bar ([^"]+)"', page)
    assert bars == ["state-failed", "state-failed soft-failed"]
    nodes = re.findall(r'class="node (state-failed[^"]*)"', page)
    assert nodes == ["state-failed", "state-failed soft-failed"]  # the graph agrees


def test_a_finished_job_without_an_end_ends_with_its_build_not_now(viewer_client, world):
    """prunner never gives failed or canceled tasks an end: the timeline must not grow
    with the clock for a build that ended an hour ago."""
    from dashboard.models import Job

    build = Build.objects.get(external_id="b4")  # failed 60 minutes ago after 60 s
    Job.objects.create(
        connection=build.connection,
        build=build,
        external_id="ok",
        name="passed job",
        state="passed",
        started_at=build.started_at,
        finished_at=build.started_at + timedelta(seconds=30),
    )
    Job.objects.create(
        connection=build.connection,
        build=build,
        external_id="bad",
        name="failed job",
        state="failed",
        started_at=build.started_at,
        finished_at=None,
    )
    page = viewer_client.get(reverse("build", args=["semaphore", "acme", "b4"])).content.decode()
    assert re.search(r"Timeline <span class=\"sub\">60 s</span>", page)  # the build's minute, not an hour
    assert 'aria-label="failed job: failed, duration not known"' in page
    bars = dict(re.findall(r'aria-label="([^:]+):[^"]*">\s*<rect class="tl-bar ([^"]+)"', page))
    assert bars == {"passed job": "state-passed", "failed job": "state-failed end-unknown"}


def test_the_overview_and_the_wallboard_cost_the_same_queries_at_any_size(viewer_client, world):
    from django.core.cache import cache
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    def queries(url: str) -> int:
        cache.clear()  # the overview of one state of the data is shared between requests
        with CaptureQueriesContext(db) as captured:
            assert viewer_client.get(url).status_code == 200
        return len(captured)

    before = {url: queries(url) for url in (reverse("home"), reverse("wall"))}
    pipeline = Pipeline.objects.get(name="shop-ci")
    for n in range(30):
        Build.objects.create(
            connection=world["acme"],
            pipeline=pipeline,
            project=pipeline.project,
            external_id=f"more-{n}",
            branch=f"topic-{n}",
            state=["failed", "running", "passed"][n % 3],
            created_at=world["now"],
        )
    assert {url: queries(url) for url in before} == before
