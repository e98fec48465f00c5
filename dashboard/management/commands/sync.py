"""``manage.py sync [SLUG ...]``: one sync of the named connections (every enabled one
without names) in the foreground, by the same code path as the Celery task, printing
what each sync did and the connection's health in words."""

from django.core.management.base import BaseCommand, CommandError

from dashboard.models import Connection
from dashboard.sync import sync_connection


class Command(BaseCommand):
    help = "Sync connections now, in the foreground, and print what each sync did."

    def add_arguments(self, parser):
        parser.add_argument("slugs", nargs="*", metavar="SLUG", help="connections to sync (default: all enabled)")

    def handle(self, *args, slugs: list[str], **options):
        if slugs:
            connections = list(Connection.objects.filter(slug__in=slugs))
            unknown = sorted(set(slugs) - {c.slug for c in connections})
            if unknown:
                raise CommandError(f"no connection with slug {', '.join(unknown)}")
        else:
            connections = list(Connection.objects.filter(enabled=True))
        failed = 0
        for connection in connections:
            run = sync_connection(connection.pk)
            connection.refresh_from_db()
            if run is None:
                self.stdout.write(f"{connection.slug}: skipped, another sync of it is running")
                continue
            failed += run.status == run.Status.FAILED
            self.stdout.write(
                f"{connection.slug} ({connection.kind_label}): {run.get_status_display().lower()}, "
                f"{run.created} created, {run.updated} updated, {run.unchanged} unchanged, "
                f"{run.requests} requests, {run.duration:.2f} s; health {connection.get_health_display()}"
                + (f": {connection.last_error}" if connection.last_error else "")
            )
        if failed:
            raise CommandError(f"{failed} sync(s) failed")
