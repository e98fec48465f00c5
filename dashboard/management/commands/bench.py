"""Measure what "speed at any history size" promises, and write a table.

Run with ``make bench`` (a database of its own under var/, unless DATABASE_URL is set).
Figures are medians of several runs on this machine; they are for comparing sizes and
changes, not promises about other hardware."""

from __future__ import annotations

import statistics
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection as db
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dashboard import logstore
from dashboard.insights import bench as insights_bench
from dashboard.models import Build, Connection, Job, Project
from dashboard.sync import sync_connection
from providers.base.sim import Scale
from providers.semaphore.sim import SemaphoreSimulator


def timed(fn, repeat: int = 5) -> tuple[float, object]:
    results, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        results.append(time.perf_counter() - start)
        if getattr(value, "status_code", 200) != 200:
            raise RuntimeError(f"the measured page answered {value.status_code}")
    return statistics.median(results), value


class Command(BaseCommand):
    help = "Benchmark list pages, sync and logs at several history sizes; writes var/bench.md."

    def add_arguments(self, parser):
        parser.add_argument("--sizes", default="1000,10000,100000", help="builds in the history")
        parser.add_argument("--output", default=str(Path(settings.STATE_DIR) / "bench.md"))
        parser.add_argument(
            "--insights-jobs",
            type=int,
            default=None,
            help="jobs in the insights history (default 1,000,000 on PostgreSQL, 100,000 on SQLite; 0 skips it)",
        )

    def handle(self, *args, sizes: str, output: str, insights_jobs: int, **options):
        # The simulator listens on 127.0.0.1 (the outbound policy refuses loopback unless allowed).
        settings.OUTBOUND_ALLOW_LOOPBACK = True
        call_command("migrate", interactive=False, verbosity=0)
        user, _ = get_user_model().objects.get_or_create(
            username="bench", defaults={"is_superuser": True, "is_staff": True}
        )
        client = Client(HTTP_HOST=settings.ALLOWED_HOSTS[0])
        client.force_login(user)
        rows: list[tuple[str, str, str, str]] = []
        for size in (int(s) for s in sizes.split(",")):
            rows += self.list_pages(client, size)
        rows += self.sync_figures()
        rows += self.log_figures(client)
        if insights_jobs is None:
            insights_jobs = 1_000_000 if db.vendor == "postgresql" else 100_000
        if insights_jobs:
            rows += insights_bench.figures(client, insights_jobs)
        table = ["| measure | size | time | notes |", "|---|---|---|---|"]
        table += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
        text = f"# Benchmarks ({db.vendor}, {timezone.now():%Y-%m-%d %H:%M} UTC)\n\n" + "\n".join(table) + "\n"
        Path(output).write_text(text)
        self.stdout.write(text)
        self.stdout.write(f"written to {output}")

    # History of a given size ------------------------------------------------------------------
    def history(self, size: int) -> Connection:
        connection, _ = Connection.objects.get_or_create(
            slug="bench",
            defaults={
                "kind": "semaphore",
                "name": "bench",
                "base_url": "http://127.0.0.1:9",
                "token": "x",
                "enabled": False,
            },
        )
        have = Build.objects.filter(connection=connection).count()
        if have >= size:
            return connection
        project, _ = Project.objects.get_or_create(connection=connection, external_id="p", defaults={"name": "api"})
        now = timezone.now()
        states = ["passed", "passed", "passed", "failed", "canceled", "running"]
        for start in range(have, size, 5000):
            builds = [
                Build(
                    connection=connection,
                    project=project,
                    external_id=f"b{i}",
                    title=f"Build {i}",
                    branch="main" if i % 3 else f"feature/{i % 50}",
                    state=states[i % len(states)],
                    created_at=now - timedelta(seconds=size - i),
                    raw={"i": i},
                )
                for i in range(start, min(start + 5000, size))
            ]
            Build.objects.bulk_create(builds, batch_size=1000)
            made = Build.objects.filter(connection=connection, external_id__in=[b.external_id for b in builds])
            Job.objects.bulk_create(
                [
                    Job(
                        connection=connection,
                        build=b,
                        external_id=f"{b.external_id}-j{k}",
                        name=f"job {k}",
                        state=b.state,
                        position=k,
                    )
                    for b in made
                    for k in range(3)
                ],
                batch_size=2000,
            )
        return connection

    def list_pages(self, client: Client, size: int) -> list[tuple]:
        self.history(size)
        url = reverse("builds")
        seconds, _ = timed(lambda: client.get(url))
        queries = []
        with db.execute_wrapper(lambda execute, sql, *a: queries.append(sql) or execute(sql, *a)):
            client.get(url)
        deep_cursor = None
        response = client.get(url)
        for _ in range(20):  # walk 20 pages down
            marker = b'rel="next"'
            body = response.content
            if marker not in body:
                break
            href = body[: body.index(marker)].rsplit(b'href="', 1)[1].split(b'"', 1)[0].decode().replace("&amp;", "&")
            deep_cursor = href
            response = client.get(href)
        deep, _ = timed(lambda: client.get(deep_cursor)) if deep_cursor else (0.0, None)
        filtered, _ = timed(lambda: client.get(url, {"state": "failed", "branch": "main"}))
        api, _ = timed(lambda: client.get(reverse("api-builds")))
        build = Build.objects.filter(connection__slug="bench").order_by("-created_at").first()
        page, _ = timed(lambda: client.get(reverse("build", args=["semaphore", "bench", build.external_id])))
        n = f"{size:,} builds"
        return [
            ("builds list, first page (50 rows)", n, f"{seconds * 1000:.0f} ms", f"{len(queries)} queries"),
            ("builds list, 20 pages deep", n, f"{deep * 1000:.0f} ms", "keyset cursor"),
            ("builds list, state + branch filter", n, f"{filtered * 1000:.0f} ms", ""),
            ("API builds, first page", n, f"{api * 1000:.0f} ms", ""),
            ("build page", n, f"{page * 1000:.0f} ms", "3 jobs"),
        ]

    # Sync ----------------------------------------------------------------------------------
    def sync_figures(self) -> list[tuple]:
        sim = SemaphoreSimulator("bench", seed=9, scale=Scale(projects=4, builds=100, jobs=4, arrival_every=0))
        sim.serve()
        try:
            Connection.objects.filter(slug="bench-sync").delete()
            connection = Connection.objects.create(
                kind="semaphore",
                name="bench sync",
                slug="bench-sync",
                base_url=sim.url,
                token="bench",
                enabled=False,
                options={"backfill_pages": 10},
            )
            start = time.perf_counter()
            first = sync_connection(connection.pk)
            first_s = time.perf_counter() - start
            start = time.perf_counter()
            quiet = sync_connection(connection.pk)
            quiet_s = time.perf_counter() - start
        finally:
            sim.stop()
        rows = first.created
        return [
            (
                "first sync (Semaphore simulator)",
                f"{len(sim.pipelines)} pipelines",
                f"{first_s:.2f} s",
                f"{first.requests} requests, {rows} rows written, {rows / first_s:.0f} rows/s",
            ),
            (
                "quiet re-sync",
                f"{len(sim.pipelines)} pipelines",
                f"{quiet_s * 1000:.0f} ms",
                f"{quiet.requests} requests, {quiet.created + quiet.updated} rows written",
            ),
        ]

    # Logs ----------------------------------------------------------------------------------
    def log_figures(self, client: Client) -> list[tuple]:
        job = Job.objects.filter(connection__slug="bench").first()
        log = logstore.log_for(job)
        log.chunks.all().delete()
        log.size = 0
        line = "\x1b[32mok\x1b[0m step output with some words <and> markup & more\n"
        megabytes = 20
        text = line * (megabytes * 1024 * 1024 // len(line))
        start = time.perf_counter()
        logstore.append(log, text)
        log.complete = True
        log.save()
        store_s = time.perf_counter() - start
        args = ["semaphore", "bench", job.external_id]
        tracemalloc.start()
        start = time.perf_counter()
        response = client.get(reverse("job-log-raw", args=args))
        streamed = sum(len(part) for part in response.streaming_content)
        download_s = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        page_s, _ = timed(lambda: client.get(reverse("job", args=args)), repeat=3)
        search_s, _ = timed(lambda: client.get(reverse("job", args=args), {"q": "nothing-matches"}), repeat=3)
        stored = sum(len(c) for c in log.chunks.values_list("data", flat=True))
        return [
            ("store a log", f"{megabytes} MB", f"{store_s:.2f} s", f"{stored / 1024 / 1024:.1f} MB compressed"),
            (
                "download raw log",
                f"{megabytes} MB",
                f"{download_s:.2f} s",
                f"{streamed / 1024 / 1024:.0f} MB streamed, peak Python memory {peak / 1024 / 1024:.1f} MB",
            ),
            ("job page (its last 200 lines)", f"{megabytes} MB", f"{page_s * 1000:.0f} ms", "line index cached"),
            ("search the whole log", f"{megabytes} MB", f"{search_s:.2f} s", "chunk by chunk"),
        ]
