"""``manage.py healthcheck [--checks beat]``: the /healthz checks from a shell, for
container health checks of processes that serve no HTTP (beat, workers)."""

import json

from django.core.management.base import BaseCommand, CommandError

from dashboard.ops.health import CHECKS, run_checks


class Command(BaseCommand):
    help = "Run the health checks (database, broker, beat); exit 1 when one fails."

    def add_arguments(self, parser):
        parser.add_argument("--checks", default=",".join(CHECKS), help=f"Comma-separated, of: {', '.join(CHECKS)}.")

    def handle(self, *args, checks: str, **options):
        names = [n.strip() for n in checks.split(",") if n.strip()]
        if unknown := [n for n in names if n not in CHECKS]:
            raise CommandError(f"Unknown check(s) {', '.join(unknown)}; known: {', '.join(CHECKS)}.")
        ok, results = run_checks(names)
        self.stdout.write(json.dumps(results))
        if not ok:
            raise CommandError("failing: " + ", ".join(n for n, r in results.items() if not r["ok"]))
