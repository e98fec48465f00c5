"""The insights part of ``make bench``: a history shaped like a busy team's (90 days, a
dozen pipelines, feature branches that come and go, reruns, machine types, deploying
pipelines, self-hosted agents), its rollups rebuilt, then every insights page timed.

The history is made once per database (``bench-insights`` connection) and reused."""

from __future__ import annotations

import random
import statistics
import time
from datetime import timedelta

from django.db import connection as db
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dashboard.models import AgentHour, Build, Connection, InsightsSettings, Job, JobDay, Pipeline, Project

from . import rollup

SLUG = "bench-insights"
DAYS = 90
JOBS_PER_BUILD = 10
# Job names and their typical seconds: each job's durations spread around its own.
JOBS = {
    "setup": 20,
    "lint": 40,
    "unit": 180,
    "integration": 420,
    "e2e": 900,
    "image": 240,
    "docs": 60,
    "security": 120,
    "package": 90,
    "upload": 30,
}
MACHINES = ["e1-standard-2", "e1-standard-4", "s1-linux"]


def history(jobs: int) -> Connection:
    connection, _ = Connection.objects.get_or_create(
        slug=SLUG,
        defaults={"kind": "semaphore", "name": "bench insights", "base_url": "http://127.0.0.1:9", "enabled": False},
    )
    InsightsSettings.objects.get_or_create(connection=connection, defaults={"deploy_pipelines": "deploy"})
    agent_hours(connection)
    size = jobs // JOBS_PER_BUILD
    have = Build.objects.filter(connection=connection).count()
    if have >= size:
        return connection
    rng = random.Random(15)
    pipelines = []
    for p in range(3):
        project, _ = Project.objects.get_or_create(
            connection=connection, external_id=f"p{p}", defaults={"name": f"service-{p}"}
        )
        for name in ("ci", "nightly", "release", "deploy"):
            pipeline, _ = Pipeline.objects.get_or_create(
                connection=connection, external_id=f"p{p}:{name}", defaults={"name": name, "project": project}
            )
            pipelines.append(pipeline)
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - timedelta(days=DAYS - 1)
    span = (timezone.now() - first).total_seconds()
    for start in range(have, size, 5000):
        builds = []
        for i in range(start, min(start + 5000, size)):
            created = first + timedelta(seconds=span * i / size)
            pipeline = pipelines[i % len(pipelines)] if i % 7 else pipelines[(i // 7) % 3 * 4]
            state = rng.choices(["passed", "failed", "canceled"], [80, 15, 5])[0]
            day = (created - first).days
            branch = "main" if rng.random() < 0.45 else f"feature/{day * 20 + rng.randrange(60)}"
            rerun = state == "failed" and i % 10 == 0 and i > 0
            wait = rng.uniform(0, 300)
            started = created + timedelta(seconds=wait)
            builds.append(
                Build(
                    connection=connection,
                    project_id=pipeline.project_id,
                    pipeline=pipeline,
                    external_id=f"ib{i}",
                    title=f"Change {i}",
                    number=str(i),
                    branch=branch,
                    commit_sha=f"{(i - 1 if rerun else i):040x}",
                    group_id=f"wf{i}",
                    state=state,
                    created_at=created,
                    started_at=started,
                    finished_at=started + timedelta(seconds=rng.uniform(60, 1800)) if state != "canceled" else None,
                )
            )
        Build.objects.bulk_create(builds, batch_size=1000)
        made = Build.objects.filter(connection=connection, external_id__in=[b.external_id for b in builds])
        rows = []
        for b in made.only("id", "state", "created_at", "started_at"):
            failing = rng.randrange(JOBS_PER_BUILD) if b.state == "failed" else -1
            for k, (name, typical) in enumerate(list(JOBS.items())[:JOBS_PER_BUILD]):
                job_start = b.started_at + timedelta(seconds=rng.uniform(0, 120))
                state = "failed" if k == failing else ("canceled" if b.state == "canceled" else "passed")
                rows.append(
                    Job(
                        connection=connection,
                        build_id=b.pk,
                        external_id=f"{b.pk}-{k}",
                        name=name,
                        position=k,
                        state=state,
                        created_at=b.started_at,
                        started_at=job_start,
                        finished_at=job_start + timedelta(seconds=typical * rng.lognormvariate(0, 0.35)),
                        raw={"job": {"spec": {"agent": {"machine": {"type": MACHINES[k % len(MACHINES)]}}}}},
                    )
                )
        Job.objects.bulk_create(rows, batch_size=2000)
    return connection


def agent_hours(connection: Connection) -> None:
    """Two self-hosted agent types sampled every minute for the whole window."""
    if AgentHour.objects.filter(connection=connection).exists():
        return
    rng = random.Random(16)
    first = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=DAYS - 1)
    hours = [first + timedelta(hours=h) for h in range(DAYS * 24)]
    AgentHour.objects.bulk_create(
        [
            AgentHour(
                connection=connection,
                agent_type=name,
                hour=hour,
                samples=60,
                online_sum=60 * 4,
                busy_sum=rng.randrange(0, 60 * 4),
                online_max=4,
                busy_max=rng.randrange(0, 5),
                saturated=rng.randrange(0, 60),
            )
            for hour in hours
            for name in ("s1-linux", "s1-arm")
        ],
        batch_size=2000,
    )


def timed(fn, repeat: int = 5) -> float:
    results = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = fn()
        results.append(time.perf_counter() - start)
        if getattr(response, "status_code", 200) != 200:
            raise RuntimeError(f"the measured page answered {response.status_code}")
    return statistics.median(results)


def figures(client: Client, jobs: int) -> list[tuple[str, str, str, str]]:
    connection = history(jobs)
    size = f"{Job.objects.filter(connection=connection).count():,} jobs"
    if not JobDay.objects.filter(connection=connection).exists():
        start = time.perf_counter()
        rollup.rebuild(connection)
        rows = [("rebuild_insights (one connection)", size, f"{time.perf_counter() - start:.1f} s", "from scratch")]
    else:
        rows = [("rebuild_insights (one connection)", size, "skipped", "rollups already built")]
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            cursor.execute("ANALYZE")  # what autovacuum does after bulk loads; the planner needs the counts
    build = Build.objects.filter(connection=connection, state="failed").select_related("pipeline").latest("created_at")
    scoped = {"connection": SLUG, "window": 90}
    pages = [
        ("insights trends, all connections, 90 days", reverse("insights"), {"window": 90}),
        ("insights trends, one connection, 90 days", reverse("insights"), scoped),
        ("insights trends, one project, 90 days", reverse("insights"), {**scoped, "project": "service-0"}),
        ("insights trends, one branch, 90 days", reverse("insights"), {**scoped, "branch": "main"}),
        (
            "insights trends, one pipeline on main",
            reverse("insights"),
            {**scoped, "pipeline": "p0:ci", "branch": "main"},
        ),
        ("insights flaky jobs, 90 days", reverse("insights-flaky"), scoped),
        ("insights queue & capacity, 90 days", reverse("insights-queue"), scoped),
        ("insights DORA, 90 days", reverse("insights-dora"), scoped),
        ("API insights jobs (CSV), 90 days", reverse("api-insights-jobs"), {**scoped, "format": "csv"}),
        ("pipeline page with its trend", reverse("pipeline", args=["semaphore", SLUG, build.pipeline.external_id]), {}),
        ("build page with usual durations", reverse("build", args=["semaphore", SLUG, build.external_id]), {}),
    ]
    for label, url, params in pages:
        seconds = timed(lambda url=url, params=params: client.get(url, params))
        with CaptureQueriesContext(db) as queries:
            client.get(url, params)
        rows.append((label, size, f"{seconds * 1000:.0f} ms", f"{len(queries)} queries"))
    recent = list(Build.objects.filter(connection=connection).order_by("-created_at").values_list("id", flat=True)[:50])
    start = time.perf_counter()
    rollup.refresh(connection.pk, recent)
    rows.append(("rollup refresh after a batch", "50 builds", f"{(time.perf_counter() - start) * 1000:.0f} ms", ""))
    return rows
