"""Everything the embedded default needs in one process group: migrations, the demo
users, a simulator per provider on loopback with a connection to each, a Celery worker
with beat (filesystem broker unless one is configured), and the web server."""

import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand

from dashboard.models import Connection
from dashboard.roles import OPERATOR_GROUP, VIEWER_GROUP
from dashboard.sync import sync_connection
from providers.base.sim import Scale
from providers.registry import KINDS, LABELS, simulator_class

DEMO_USERS = [("admin", "admin", None), ("operator", "operator", OPERATOR_GROUP), ("viewer", "viewer", VIEWER_GROUP)]
SIM_BASE_PORT = 9100


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _interrupt(signum, frame):
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Run the whole dashboard locally against the provider simulators."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--sync-interval", type=int, default=5)

    def handle(self, *args, port: int, sync_interval: int, **options):
        # Also when started in the background, where SIGINT arrives ignored.
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, _interrupt)
        # The simulators listen on 127.0.0.1: let this process and the worker reach them
        # (the outbound policy refuses loopback unless allowed; docs/security.md).
        os.environ["OUTBOUND_ALLOW_LOOPBACK"] = "true"
        settings.OUTBOUND_ALLOW_LOOPBACK = True
        call_command("migrate", interactive=False, verbosity=0)
        self.create_users()
        simulators = self.start_simulators(sync_interval)
        self.first_syncs()
        worker = self.start_worker()
        url = f"http://127.0.0.1:{port}/"
        self.stdout.write(
            self.style.SUCCESS(
                f"\nCI dashboard: {url}\n  log in as admin / admin (also operator / operator, viewer / viewer)\n"
                f"  simulators: {', '.join(f'{s.kind} {s.url}' for s in simulators)}\n  Ctrl-C stops everything.\n"
            )
        )
        self.stdout.flush()
        try:
            call_command("runserver", f"127.0.0.1:{port}", use_reloader=False, use_threading=True, skip_checks=True)
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.stop_worker(worker)
            for sim in simulators:
                sim.stop()
            self.stdout.write("stopped.")

    def create_users(self) -> None:
        User = get_user_model()
        for username, password, group in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_password(password)
                if group is None:
                    user.is_staff = user.is_superuser = True
                user.save()
            if group:
                user.groups.add(Group.objects.get(name=group))

    def start_simulators(self, sync_interval: int) -> list:
        simulators = []
        for offset, kind in enumerate(sorted(KINDS)):
            sim = simulator_class(kind)(f"demo-{kind}-token", seed=1, scale=Scale(arrival_every=20))
            port = SIM_BASE_PORT + offset
            sim.serve("127.0.0.1", port if port_is_free(port) else 0)
            # A fresh connection each start: the simulators start a fresh world too.
            Connection.objects.filter(slug=f"demo-{kind}").delete()
            Connection.objects.create(
                kind=kind,
                name=f"Demo {LABELS[kind]}",
                slug=f"demo-{kind}",
                base_url=sim.url,
                token=sim.token,
                sync_interval=sync_interval,
                options=sim.connection_options(),
            )
            simulators.append(sim)
        return simulators

    def first_syncs(self) -> None:
        """Sync once before serving, so the first page a visitor sees is already full."""
        for connection in Connection.objects.filter(slug__startswith="demo-"):
            run = sync_connection(connection.pk)
            if run is not None:
                self.stdout.write(
                    f"  {connection.name}: {run.get_status_display()}, {run.created} rows in {run.duration:.1f} s"
                )

    def start_worker(self) -> subprocess.Popen:
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "dashboard",
            "worker",
            "-B",
            "--pool=threads",
            "--concurrency=2",
            "--loglevel=WARNING",
            "--schedule",
            settings.CELERY_BEAT_SCHEDULE_FILENAME,
        ]
        return subprocess.Popen(command, cwd=settings.BASE_DIR)

    def stop_worker(self, worker: subprocess.Popen) -> None:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            deadline = time.time() + 15
            while worker.poll() is None and time.time() < deadline:
                time.sleep(0.2)
            if worker.poll() is None:
                worker.kill()
        worker.wait()
