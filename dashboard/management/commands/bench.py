"""Measure what "fast at any history size and any number of connections" promises, and
write a table (``var/bench.md``) with the method beside each figure.

Every section runs in a fresh database of its own (``<name>_bench_<section>`` on the
configured PostgreSQL server, or a new SQLite file), so no figure depends on what an
earlier run left behind. Figures are for comparing sizes and changes on one machine,
not promises about other hardware.

- pages: a history of ``--scale`` jobs made by direct inserts, then the builds list
  (first page, HTMX partial, 20 pages deep, state=failed, text search), the API, and a
  50 MB log (job page, raw download with its memory growth, search);
- syncs: the first sync into an empty database and the quiet re-sync, per provider,
  against simulators in processes of their own;
- fan-out: 1,000 connections due every 60 s on beat and 1, then 2 worker processes,
  and how 1 and 2 workers compare where slots rather than cores are the limit
  (PostgreSQL and Redis only; a few minutes);
- freshness: how soon an open builds list shows a build that arrived or finished at a
  provider, with beat, a worker and gunicorn in processes of their own (PostgreSQL and
  Redis only; about two minutes);
- insights: its own history and pages (``dashboard.insights.bench``).

``--quick`` is the CI-sized run (well under a minute): small sizes, no fan-out or
freshness unless asked for (``--fanout``, ``--only``)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection as db
from django.utils import timezone

from dashboard.benchmarks import fanout as fan_out
from dashboard.benchmarks import freshness, pages, syncs
from dashboard.benchmarks.common import Row, fresh_database
from dashboard.insights import bench as insights_bench

SECTIONS = ("pages", "syncs", "fanout", "freshness", "insights")


class Command(BaseCommand):
    help = "Benchmark pages, syncs, logs, fan-out and insights, each on a fresh database; writes var/bench.md."

    def add_arguments(self, parser):
        parser.add_argument("--quick", action="store_true", help="CI-sized: small histories, under a minute")
        parser.add_argument(
            "--scale",
            type=int,
            default=None,
            help="jobs in the pages history (default 1,000,000 on PostgreSQL, 100,000 on SQLite; 20,000 quick)",
        )
        parser.add_argument("--only", default="", help=f"comma-separated sections of: {', '.join(SECTIONS)}")
        parser.add_argument("--fanout", action="store_true", help="run the fan-out section even with --quick")
        parser.add_argument("--connections", type=int, default=1000, help="connections in the fan-out section")
        parser.add_argument("--output", default=str(Path(settings.STATE_DIR) / "bench.md"))
        parser.add_argument(
            "--insights-jobs",
            type=int,
            default=None,
            help="jobs in the insights history (default 1,000,000 on PostgreSQL, 100,000 on SQLite; 0 skips it)",
        )

    def handle(self, *args, quick: bool, scale: int | None, only: str, fanout: bool, connections: int, **options):
        # The simulators listen on 127.0.0.1 (the outbound policy refuses loopback unless allowed).
        settings.OUTBOUND_ALLOW_LOOPBACK = True
        chosen = [s.strip() for s in only.split(",") if s.strip()] or list(SECTIONS)
        unknown = set(chosen) - set(SECTIONS)
        if unknown:
            raise CommandError(f"unknown section(s) {', '.join(sorted(unknown))}; known: {', '.join(SECTIONS)}")
        if quick and "fanout" in chosen and not (fanout or only):
            chosen.remove("fanout")
        if quick and "freshness" in chosen and not only:
            chosen.remove("freshness")
        postgres = db.vendor == "postgresql"
        if scale is None:
            scale = 20_000 if quick else 1_000_000 if postgres else 100_000
        insights_jobs = options["insights_jobs"]
        if insights_jobs is None:
            insights_jobs = 20_000 if quick else 1_000_000 if postgres else 100_000
        rows: list[Row] = []
        for section in chosen:
            self.stderr.write(f"bench: {section}…")
            with fresh_database(f"bench_{section}"):
                if section == "pages":
                    rows += pages.figures(scale)
                elif section == "syncs":
                    rows += syncs.figures(quick)
                elif section == "fanout":
                    rows += (
                        fan_out.figures(connections=50, interval=10, warmup=10, window=15)
                        if quick
                        else fan_out.figures(connections=connections)
                    )
                elif section == "freshness":
                    rows += freshness.figures(quick)
                elif section == "insights" and insights_jobs:
                    client = pages.client_for_bench()
                    rows += [Row(*r) for r in insights_bench.figures(client, insights_jobs)]
        if pages.FIRST_PAGE_P50 and (live := syncs.live_row(pages.FIRST_PAGE_P50[0])):
            rows.append(live)
        table = ["| measure | size | figure | method |", "|---|---|---|---|"]
        table += [f"| {r.measure} | {r.size} | {r.figure} | {r.method} |" for r in rows]
        text = (
            f"# Benchmarks ({db.vendor}, {timezone.now():%Y-%m-%d %H:%M} UTC{', quick' if quick else ''})\n\n"
            + "\n".join(table)
            + "\n"
        )
        Path(options["output"]).parent.mkdir(parents=True, exist_ok=True)
        Path(options["output"]).write_text(text)
        self.stdout.write(text)
        self.stdout.write(f"written to {options['output']}")
