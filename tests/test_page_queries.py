"""The queries a page runs do not grow with the history or the number of connections,
nor with how deep one pages: each main page is measured at two sizes (and the builds
list at two depths) and must run the same number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dashboard.models import (
    ActionLog,
    Build,
    Connection,
    Deployment,
    DeploymentTarget,
    Job,
    Pipeline,
    Project,
    SyncRun,
)
from dashboard.models.connections import Health

BUILDS_PER_CONNECTION = 600
STATES = ["passed", "passed", "failed", "passed", "canceled", "running"]


def add_connections(first: int, count: int) -> None:
    now = timezone.now()
    for n in range(first, first + count):
        conn = Connection.objects.create(
            kind="semaphore",
            name=f"Team {n}",
            slug=f"team-{n}",
            base_url="http://127.0.0.1:9",
            token="t",
            health=Health.OK,
            last_synced_at=now,
        )
        project = Project.objects.create(connection=conn, external_id=f"p{n}", name=f"project-{n}")
        pipeline = Pipeline.objects.create(connection=conn, project=project, external_id=f"pl{n}", name=f"ci-{n}")
        builds = Build.objects.bulk_create(
            Build(
                connection=conn,
                project=project,
                pipeline=pipeline,
                external_id=f"{n}-{i}",
                title=f"change {i}",
                branch="main" if i % 3 else f"feature/{i}",
                state=STATES[i % len(STATES)],
                created_at=now - timedelta(minutes=i * 7 + n),
                started_at=now - timedelta(minutes=i * 7 + n),
            )
            for i in range(BUILDS_PER_CONNECTION)
        )
        Job.objects.bulk_create(
            Job(connection=conn, build=b, external_id=f"{b.external_id}-j{k}", name=f"j{k}", position=k, state=b.state)
            for b in builds[:50]
            for k in range(3)
        )
        SyncRun.objects.bulk_create(
            SyncRun(connection=conn, status=SyncRun.Status.OK, requests=3, created=1) for _ in range(8)
        )
        target = DeploymentTarget.objects.create(connection=conn, project=project, external_id=f"t{n}", name="prod")
        Deployment.objects.bulk_create(
            Deployment(
                connection=conn,
                target=target,
                external_id=f"d{n}-{i}",
                build=builds[i],
                triggered_at=now - timedelta(hours=i),
                state="passed",
            )
            for i in range(20)
        )
        ActionLog.objects.bulk_create(
            ActionLog(username="otto", connection=conn, action="rerun", target=f"build:{n}-{i}", ok=True)
            for i in range(30)
        )


def older_link(client, url: str) -> str:
    page = client.get(url).content.decode()
    return page.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")


def page_urls(client) -> dict[str, tuple[str, bool]]:
    builds = reverse("builds")
    deep = builds
    for _ in range(20):
        deep = older_link(client, deep)
    newest = Build.objects.filter(connection__slug="team-0").order_by("-created_at").first()
    return {
        "overview": (reverse("home"), False),
        "overview refresh": (reverse("home"), True),
        "builds": (builds, False),
        "builds, failed": (f"{builds}?state=failed", False),
        "builds refresh": (builds, True),
        "builds 20 pages deep": (deep, False),
        "a build": (newest.get_absolute_url(), False),
        "a connection": (reverse("connection", args=["semaphore", "team-0"]), False),
        "connections": (reverse("connections"), False),
        "deployments": (reverse("deployments"), False),
        "activity": (reverse("activity"), False),
        "insights": (reverse("insights"), False),
        "api builds": (reverse("api-builds"), False),
        "api connections": (reverse("api-connections"), False),
    }


def query_counts(client) -> dict[str, int]:
    counts = {}
    for name, (url, htmx) in page_urls(client).items():
        headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
        client.get(url, **headers)  # sessions warm
        cache.clear()  # what a page computes, not what an earlier request left behind
        with CaptureQueriesContext(db) as ctx:
            response = client.get(url, **headers)
        assert response.status_code == 200, (name, response.status_code)
        counts[name] = len(ctx)
    return counts


@pytest.mark.django_db
def test_page_query_counts_do_not_grow_with_history_connections_or_depth(viewer_client):
    add_connections(0, 2)
    small = query_counts(viewer_client)
    add_connections(2, 4)  # three times the connections, builds, runs, deployments, audit entries
    large = query_counts(viewer_client)
    print("queries per page:", small)
    assert large == small
    assert small["builds 20 pages deep"] == small["builds"]
