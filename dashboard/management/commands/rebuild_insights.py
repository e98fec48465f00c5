"""Recompute every insights rollup from the stored builds and jobs.

The sync keeps the rollups current on its own; this is for after an upgrade that
changes how a figure is computed, or to check that the running figures are right (the
numbers come out the same). Agent capacity samples are a history of their own and are
kept."""

import time

from django.core.management.base import BaseCommand, CommandError

from dashboard.insights.rollup import rebuild
from dashboard.models import Connection


class Command(BaseCommand):
    help = "Recompute the insights rollups (trends, flaky jobs, queue wait, time red, DORA) from scratch."

    def add_arguments(self, parser):
        parser.add_argument("--connection", action="append", default=[], help="slug; repeat for more (default: all)")

    def handle(self, *args, connection: list[str], **options):
        connections = Connection.objects.order_by("slug")
        if connection:
            connections = connections.filter(slug__in=connection)
            missing = sorted(set(connection) - set(connections.values_list("slug", flat=True)))
            if missing:
                raise CommandError(f"No connection with the slug {', '.join(missing)}.")
        for conn in connections:
            start = time.monotonic()
            rebuild(conn)
            self.stdout.write(f"{conn.slug}: rollups rebuilt in {time.monotonic() - start:.1f} s")
