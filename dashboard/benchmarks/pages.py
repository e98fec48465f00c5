"""Pages over a large history: made by direct inserts (several connections, projects and
pipelines, 5 jobs per build, raw JSON of the size synced builds carry, varied log text),
then each page asked 20 times through the full Django stack (p50 / p95, query count)."""

from __future__ import annotations

import gc
import json
import random
import resource
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import connection as db
from django.db import models, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dashboard import logstore
from dashboard.models import Build, Connection, Job, Pipeline, Project
from dashboard.startup import settle

from .common import Row, percentile

KINDS = ["semaphore", "harmont", "prunner", "jobsplatform"]
PROJECTS_PER_CONNECTION = 12
PIPELINES_PER_PROJECT = 6
JOBS_PER_BUILD = 5
STATES = ["passed"] * 6 + ["failed", "canceled", "running", "queued"]
REPEAT = 20
# The size of what a synced build carries in ``raw`` (about 2.4 KB as JSON).
RAW_FILLER = 36


def client_for_bench() -> Client:
    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_superuser": True, "is_staff": True}
    )
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    settle()  # as the web server does once the app is loaded (dashboard/wsgi.py)
    return client


# History -----------------------------------------------------------------------------------
def history(jobs: int) -> list[Connection]:
    """``jobs`` jobs in ``jobs / 5`` builds over 4 connections, ~50 projects, ~300 pipelines."""
    now = timezone.now()
    connections = []
    for i, kind in enumerate(KINDS):
        connection = Connection.objects.create(
            kind=kind, name=f"bench {kind}", slug=f"bench-{kind}", base_url=f"http://127.0.0.1:{9 + i}", enabled=False
        )
        connections.append(connection)
        for p in range(PROJECTS_PER_CONNECTION):
            project = Project.objects.create(connection=connection, external_id=f"p{p}", name=f"service-{i}-{p}")
            Pipeline.objects.bulk_create(
                Pipeline(connection=connection, project=project, external_id=f"p{p}:ci{k}", name=f"ci-{k}")
                for k in range(PIPELINES_PER_PROJECT)
            )
    builds = max(jobs // JOBS_PER_BUILD, 1)
    if db.vendor == "postgresql":
        insert_series_postgresql(builds, now)
    else:
        insert_python(connections, builds, now)
    with db.cursor() as cursor:
        cursor.execute("ANALYZE")
    return connections


def _columns(model: type[models.Model], given: dict[str, str]) -> tuple[str, str, list]:
    """Column list and select list for ``INSERT ... SELECT``: the expressions given, the
    model's defaults (as parameters) for the rest."""
    names, exprs, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        names.append(db.ops.quote_name(field.column))
        if field.attname in given:
            exprs.append(given[field.attname])
        else:
            default = field.get_default()
            if isinstance(field, models.JSONField):
                exprs.append("%s::jsonb")
                params.append(json.dumps(default))
            else:
                exprs.append("%s")
                params.append(default)
    return ", ".join(names), ", ".join(exprs), params


def insert_series_postgresql(builds: int, now) -> None:
    """Builds and jobs made by the server from ``generate_series``: no rows cross the
    wire, so a million jobs take minutes, not hours."""
    states = "ARRAY[" + ", ".join(f"'{s}'" for s in STATES) + "]"
    at = f"'{now.isoformat()}'::timestamptz"  # our own value: safe to inline
    # Builds: connection, project and pipeline by number, newest last, ~2.4 KB of raw JSON.
    build_fields = {
        "connection_id": "c.id",
        "external_id": "'b' || g",
        "raw": f"jsonb_build_object('id', g, 'commit', md5(g::text), 'body', repeat(md5(g::text), {RAW_FILLER}), "
        "'labels', jsonb_build_array('ci', 'team-' || mod(g, 7)))",
        "fingerprint": "md5(g::text)",
        "synced_at": at,
        "project_id": "pr.id",
        "pipeline_id": "pl.id",
        "number": "'#' || g",
        "title": "'Build ' || g || ' ' || md5((g * 7)::text)",
        "branch": "CASE WHEN mod(g, 3) = 0 THEN 'feature/' || mod(g, 97) ELSE 'main' END",
        "commit_sha": "md5(g::text)",
        "commit_message": "'Change ' || md5((g * 3)::text)",
        "state": f"({states})[1 + mod(g, {len(STATES)})]",
        "raw_state": f"({states})[1 + mod(g, {len(STATES)})]",
        "created_at": f"{at} - make_interval(secs => ({int(builds)} - g) * 15)",
        "started_at": f"{at} - make_interval(secs => ({int(builds)} - g) * 15 - 5)",
        "finished_at": f"{at} - make_interval(secs => ({int(builds)} - g) * 15 - 300)",
    }
    cols, exprs, params = _columns(Build, build_fields)
    with db.cursor() as cursor:
        cursor.execute(
            f"""
            WITH numbered AS (
                SELECT pl.id AS pipeline_id, pl.project_id, pl.connection_id,
                       row_number() OVER (ORDER BY pl.id) - 1 AS n, count(*) OVER () AS total
                FROM dashboard_pipeline pl
            )
            INSERT INTO dashboard_build ({cols})
            SELECT {exprs}
            FROM generate_series(1, {int(builds)}) g
            JOIN numbered nb ON nb.n = mod(g, nb.total)
            JOIN dashboard_connection c ON c.id = nb.connection_id
            JOIN dashboard_project pr ON pr.id = nb.project_id
            JOIN dashboard_pipeline pl ON pl.id = nb.pipeline_id
            """,
            params,
        )
        job_fields = {
            "connection_id": "b.connection_id",
            "external_id": "b.external_id || '-j' || k",
            "raw": "jsonb_build_object('id', k, 'machine', 'e1-standard-' || mod(k, 3), 'body', "
            "repeat(md5(b.id::text || k), 6))",
            "fingerprint": "md5(b.external_id || k)",
            "synced_at": "b.synced_at",
            "build_id": "b.id",
            "name": "(ARRAY['setup', 'lint', 'unit', 'integration', 'e2e'])[k]",
            "group": "'block ' || mod(k, 2)",
            "position": "k",
            "state": "b.state",
            "raw_state": "b.raw_state",
            "created_at": "b.created_at",
            "started_at": "b.started_at",
            "finished_at": "b.finished_at",
        }
        cols, exprs, params = _columns(Job, job_fields)
        cursor.execute(
            f"INSERT INTO dashboard_job ({cols}) SELECT {exprs} FROM dashboard_build b, "
            f"generate_series(1, {JOBS_PER_BUILD}) k",
            params,
        )


def insert_python(connections: list[Connection], builds: int, now) -> None:
    """The embedded default (SQLite): the same shapes, written through the ORM."""
    pipelines = list(Pipeline.objects.select_related("project"))
    rng = random.Random(5)
    filler = "x" * (RAW_FILLER * 32)
    for start in range(0, builds, 2000):
        made = []
        for g in range(start, min(start + 2000, builds)):
            pipeline = pipelines[g % len(pipelines)]
            state = STATES[g % len(STATES)]
            created = now - timedelta(seconds=(builds - g) * 15)
            made.append(
                Build(
                    connection_id=pipeline.connection_id,
                    project_id=pipeline.project_id,
                    pipeline=pipeline,
                    external_id=f"b{g}",
                    number=f"#{g}",
                    title=f"Build {g} {rng.getrandbits(64):x}",
                    branch="main" if g % 3 else f"feature/{g % 97}",
                    state=state,
                    raw_state=state,
                    created_at=created,
                    started_at=created + timedelta(seconds=5),
                    finished_at=created + timedelta(seconds=300),
                    raw={"id": g, "body": filler},
                )
            )
        with transaction.atomic():
            Build.objects.bulk_create(made, batch_size=500)
            Job.objects.bulk_create(
                [
                    Job(
                        connection_id=b.connection_id,
                        build=b,
                        external_id=f"{b.external_id}-j{k}",
                        name=["setup", "lint", "unit", "integration", "e2e"][k],
                        position=k,
                        state=b.state,
                        raw={"id": k, "body": filler[:192]},
                    )
                    for b in Build.objects.filter(external_id__in=[m.external_id for m in made])
                    for k in range(JOBS_PER_BUILD)
                ],
                batch_size=1000,
            )


# Timing -----------------------------------------------------------------------------------
def timed(fn: Callable[[], object], repeat: int = REPEAT) -> tuple[float, float, int]:
    """p50 and p95 seconds of ``repeat`` calls, after one untimed call (a process compiles
    a template or a serializer once, on its first use: that is not a page's cost), and the
    queries of the last one."""
    _consume(fn())
    seconds = []
    queries = 0
    for _ in range(repeat):
        with CaptureQueriesContext(db) as captured:
            start = time.perf_counter()
            response = _consume(fn())
            seconds.append(time.perf_counter() - start)
        status = getattr(response, "status_code", 200)
        if status != 200:
            raise RuntimeError(f"the measured page answered {status}")
        queries = len(captured)
    return percentile(seconds, 0.5), percentile(seconds, 0.95), queries


def _consume(response: object) -> object:
    if hasattr(response, "streaming_content"):
        for _ in response.streaming_content:
            pass
    return response


# The builds list's first page p50 (seconds), for the comparison with fetching it live.
FIRST_PAGE_P50: list[float] = []


def page_row(what: str, size: str, fn: Callable[[], object], note: str = "") -> Row:
    p50, p95, queries = timed(fn)
    if what == "builds list, first page":
        FIRST_PAGE_P50[:] = [p50]
    return Row(
        what,
        size,
        f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms",
        f"{REPEAT} requests through the Django test client (full middleware stack) after one untimed, "
        f"{queries} queries{note}",
    )


def deep_link(client: Client, url: str, pages: int) -> str | None:
    """The URL of the page ``pages`` "next" links down the builds list."""
    response, href = client.get(url), None
    for _ in range(pages):
        body = response.content
        marker = b'rel="next"'
        if marker not in body:
            return href
        href = body[: body.index(marker)].rsplit(b'href="', 1)[1].split(b'"', 1)[0].decode().replace("&amp;", "&")
        response = client.get(href)
    return href


def figures(jobs: int) -> list[Row]:
    made = time.perf_counter()
    history(jobs)
    made = time.perf_counter() - made
    builds = Build.objects.count()
    held = Job.objects.count()
    size = f"{held:,} jobs in {builds:,} builds"
    client = client_for_bench()
    url = reverse("builds")
    how = "INSERT ... SELECT generate_series on the server" if db.vendor == "postgresql" else "ORM bulk inserts"
    rows = [Row("history made", size, f"{made:.0f} s", f"{how}, then ANALYZE")]
    rows.append(page_row("builds list, first page", size, lambda: client.get(url)))
    rows.append(page_row("builds list, HTMX partial", size, lambda: client.get(url, HTTP_HX_REQUEST="true")))
    deep = deep_link(client, url, 20)
    if deep:
        rows.append(page_row("builds list, 20 pages deep", size, lambda: client.get(deep), ", keyset cursor"))
    rows.append(page_row("builds list, state=failed", size, lambda: client.get(url, {"state": "failed"})))
    rows.append(page_row("builds list, text search", size, lambda: client.get(url, {"q": "nothing-matches-this"})))
    rows.append(page_row("API builds, first page", size, lambda: client.get(reverse("api-builds"))))
    return rows + log_figures(client)


# A big log ----------------------------------------------------------------------------------
WORDS = [
    *("compiling", "linking", "test", "passed", "failed", "warning", "error", "module", "package", "resolve"),
    *("download", "cache", "hit", "miss", "step", "docker", "layer", "pull", "push", "image", "build"),
    *("artifact", "upload", "coverage", "report", "lint", "format", "check", "assert", "request", "response"),
    *("timeout", "retry", "connect", "database", "migrate", "seed", "fixture", "worker", "queue", "task", "done"),
]


def varied_log(megabytes: int) -> str:
    """Lines like a CI log's (timestamps, counters, paths, words in varying order): about
    3:1 under zlib, as real logs are."""
    rng = random.Random(11)
    lines = []
    size = 0
    n = 0
    while size < megabytes * 1024 * 1024:
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12)))
        line = (
            f"2026-11-27T10:{n // 6000 % 60:02d}:{n // 100 % 60:02d}.{n % 1000:03d}Z [{rng.choice(WORDS)}] "
            f"{words} /src/{rng.choice(WORDS)}/{rng.getrandbits(24):x}.py:{rng.randint(1, 999)} {rng.random():.4f}\n"
        )
        lines.append(line)
        size += len(line)
        n += 1
    return "".join(lines)


def rss_mb() -> float:
    """The process's resident memory now (Linux), else its peak so far."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize() / 1024 / 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class RssPeak:
    """The highest resident memory seen while the block runs, sampled every 10 ms."""

    def __enter__(self) -> RssPeak:
        self.before = self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_mb())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def log_figures(client: Client, megabytes: int = 50) -> list[Row]:
    job = Job.objects.select_related("connection").order_by("-id").first()
    text = varied_log(megabytes)
    log = logstore.log_for(job)
    with transaction.atomic():
        logstore.append(log, text)
        log.complete = True
        log.save()
    stored = sum(len(c) for c in log.chunks.values_list("data", flat=True))
    ratio = len(text.encode()) / max(stored, 1)
    del text
    args = [job.connection.kind, job.connection.slug, job.external_id]
    size = f"{megabytes} MB log ({ratio:.1f}:1 compressed)"
    rows = [page_row("job page with a big log (its tail)", size, lambda: client.get(reverse("job", args=args)))]
    gc.collect()
    with RssPeak() as memory:
        start = time.perf_counter()
        response = client.get(reverse("job-log-raw", args=args))
        streamed = sum(len(part) for part in response.streaming_content)
        seconds = time.perf_counter() - start
    rows.append(
        Row(
            "raw log download",
            size,
            f"{seconds * 1000:.0f} ms, RSS +{memory.peak - memory.before:.1f} MB",
            f"one streamed download of {streamed / 1024 / 1024:.0f} MB; the process's resident memory at its "
            "highest during the download (sampled every 10 ms) minus before it",
        )
    )
    rows.append(
        page_row(
            "log search",
            size,
            lambda: client.get(reverse("job-log-search", args=args), {"q": "nothing-matches-this"}),
        )
    )
    return rows
