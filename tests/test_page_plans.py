"""Every list filter and page read through an index, checked with EXPLAIN on PostgreSQL
over a history large enough for the planner to choose honestly (tens of thousands of
builds, written by direct SQL and ANALYZEd): no page or API list may scan the builds or
jobs table from end to end. SQLite has no planner worth asking; these tests skip there."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dashboard.models import ActionLog, Build, Deployment, DeploymentTarget

from . import history

pytestmark = pytest.mark.skipif(db.vendor != "postgresql", reason="query plans are checked on PostgreSQL")

BIG_TABLES = ("dashboard_build", "dashboard_job")


def plans_of(client, url: str) -> list[tuple[str, str]]:
    """(SQL, plan) of each query the request ran on the builds or jobs table."""
    with CaptureQueriesContext(db) as ctx:
        response = client.get(url, HTTP_HX_REQUEST="true") if url.startswith("htmx:") else client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    found = []
    for query in ctx.captured_queries:
        sql = query["sql"]
        if not sql.lstrip().upper().startswith("SELECT") or not any(t in sql for t in BIG_TABLES):
            continue
        with db.cursor() as cur:
            cur.execute("EXPLAIN " + sql)
            found.append((sql, "\n".join(row[0] for row in cur.fetchall())))
    return found


@pytest.fixture
def big(db, viewer_client):
    made = history.fill(builds=40_000, jobs_per_build=3)
    target = DeploymentTarget.objects.create(connection=made.connections[0], external_id="t1", name="production")
    newest = Build.objects.order_by("-created_at").first()
    for n in range(60):
        Deployment.objects.create(
            connection=target.connection,
            target=target,
            external_id=f"d{n}",
            build=newest,
            triggered_at=timezone.now() - timedelta(hours=n),
            state="passed",
        )
    for n in range(30):
        ActionLog.objects.create(username="otto", connection=made.connections[0], action="rerun", target=f"build:b{n}")
    return made


def deep_url(client, path: str, pages: int) -> str:
    """The URL of page ``pages + 1``, followed through the "Older" links."""
    url = path
    for _ in range(pages):
        page = client.get(url).content.decode()
        after = page.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
        url = after
    return url


def test_no_page_or_list_scans_the_builds_or_jobs_table(big, viewer_client):
    builds, api_builds, api_jobs = reverse("builds"), reverse("api-builds"), reverse("api-jobs")
    filters = [
        "",
        "state=failed",
        "state=blocked",
        "provider=harmont",
        f"connection={big.connections[1].slug}",
        "project=project-3",
        "project=quiet-project",
        "pipeline=quiet-ci",
        f"pipeline={big.pipelines[4].name}",
        "branch=release/",
        "branch=no-such-branch",
        "q=pricing",
        "q=nothing-like-this",
        "q=b123",
        "q=" + "c4ca4238",
        "day=" + (timezone.now() - timedelta(days=3)).date().isoformat(),
        "state=failed&project=quiet-project",
    ]
    urls = [f"{builds}?{f}" for f in filters]
    urls += [f"htmx:{builds}?state=failed", deep_url(viewer_client, builds, 20)]
    urls += [f"{api_builds}?{f}" for f in [*filters, "gone=true", "finished_after=2026-01-01T00:00:00Z"]]
    urls += [
        f"{api_jobs}?{f}"
        for f in [
            "",
            "state=failed",
            "state=blocked",
            "provider=harmont",
            "project=quiet-project",
            "pipeline=quiet-ci",
            "branch=main",
            "build=b77",
            "name=lint 1",
            "allowed_failure=true",
            "started_after=" + (timezone.now() - timedelta(days=2)).isoformat().replace("+00:00", "Z"),
        ]
    ]
    urls += [reverse("home"), reverse("connections"), reverse("deployments"), reverse("activity")]
    urls += [reverse("api-connections"), reverse("api-deployments")]
    scans = []
    for url in urls:
        for sql, plan in plans_of(viewer_client, url):
            # DISTINCT (django-filter adds it to multiple-choice filters unless told not
            # to) makes the database collect and sort every match before the first row.
            if any(f"Seq Scan on {table}" in plan for table in BIG_TABLES) or "SELECT DISTINCT" in sql:
                scans.append(f"{url}\n{sql}\n{plan}")
    assert scans == [], "\n\n".join(scans)


def test_a_project_without_recent_builds_reads_its_own_index(big, viewer_client):
    """Its builds are a year old: walking the newest builds to find them would read them all."""
    plans = plans_of(viewer_client, f"{reverse('builds')}?project=quiet-project")
    listing = [plan for sql, plan in plans if "ORDER BY" in sql]
    assert listing and "build_project_recent" in listing[0], listing
    page = viewer_client.get(f"{reverse('builds')}?project=quiet-project").content.decode()
    assert "Old build" in page


def test_a_rare_word_is_found_through_the_trigram_index(big, viewer_client):
    plans = plans_of(viewer_client, f"{reverse('builds')}?q=nothing-like-this")
    assert any("build_text_trgm" in plan for _, plan in plans), plans


@pytest.mark.django_db
def test_no_index_repeats_the_leading_columns_of_another():
    """An index whose columns (and operator classes) begin another index or unique key
    serves no query the longer one does not serve, and costs every write of a sync."""
    with db.cursor() as cur:
        cur.execute(
            """
            SELECT t.relname, i.relname, ix.indkey::int2[], ix.indclass::oid[]
            FROM pg_index ix
            JOIN pg_class i ON i.oid = ix.indexrelid
            JOIN pg_class t ON t.oid = ix.indrelid
            JOIN pg_am am ON am.oid = i.relam
            WHERE t.relname LIKE 'dashboard\\_%%' AND am.amname = 'btree'
              AND ix.indpred IS NULL AND ix.indexprs IS NULL
            """
        )
        indexes = [
            (table, name, list(zip(keys, classes, strict=True))) for table, name, keys, classes in cur.fetchall()
        ]
    repeated = sorted(
        (short, long)
        for table, short, columns in indexes
        for other_table, long, longer in indexes
        if other_table == table
        and long != short
        and longer[: len(columns)] == columns
        and (len(longer) > len(columns) or short > long)  # of two alike, name one
    )
    assert repeated == []
