import json
import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from providers.base.sim import Faults, Scale
from providers.registry import KINDS, simulator_class


class Command(BaseCommand):
    help = "Serve a provider simulator on 127.0.0.1 until stopped (Ctrl-C)."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(KINDS))
        parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
        parser.add_argument("--token", required=True, help="the token (or secret) clients must send")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--scale", default="", help="e.g. projects=3,builds=50,jobs=6,arrival_every=20")
        parser.add_argument(
            "--faults",
            default="",
            help="e.g. 5xx=0.1,429=0.05,retry_after=2,latency=0.2,timeout=0.01,malformed=0.02,unknown_enum=0.05",
        )

    def handle(self, *args, kind: str, port: int, token: str, seed: int, scale: str, faults: str, **options):
        try:
            sim = simulator_class(kind)(token, seed=seed, scale=Scale.parse(scale), faults=Faults.parse(faults))
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        try:
            sim.serve("127.0.0.1", port)
        except OSError as exc:
            raise CommandError(f"cannot listen on 127.0.0.1:{port}: {exc}") from exc
        self.stdout.write(f"{kind} simulator on {sim.url} (seed {seed}); Ctrl-C stops it", ending="\n")
        if options_needed := sim.connection_options():
            self.stdout.write(f"connection options: {json.dumps(options_needed)}")
        self.stdout.flush()
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            sim.stop()
