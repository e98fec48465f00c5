"""What the benchmarks share: a fresh database per measurement, simulators in processes
of their own (so their CPU is not counted as the sync's), percentiles, and rows of the
table, each with the method that produced its figure."""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connection as db
from django.db import connections


@dataclass
class Row:
    measure: str
    size: str
    figure: str
    method: str


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..1) of ``values``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def child_env(**extra: str) -> dict[str, str]:
    """The environment for processes the benchmark starts: this database and broker."""
    env = dict(os.environ)
    env["DATABASE_URL"] = database_url()
    env["OUTBOUND_ALLOW_LOOPBACK"] = "true"
    env.update(extra)
    return env


def database_url() -> str:
    conf = settings.DATABASES["default"]
    if db.vendor == "sqlite":
        return f"sqlite:///{conf['NAME']}"
    user = conf.get("USER") or ""
    password = f":{conf['PASSWORD']}" if conf.get("PASSWORD") else ""
    host = conf.get("HOST") or "127.0.0.1"
    port = f":{conf['PORT']}" if conf.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{conf['NAME']}"


@contextlib.contextmanager
def fresh_database(label: str) -> Iterator[str]:
    """A new, migrated database for one measurement (dropped afterwards): figures never
    depend on what an earlier run left behind. PostgreSQL: ``<name>_<label>`` on the same
    server; SQLite: a file beside the configured one."""
    conf = settings.DATABASES["default"]
    original = conf["NAME"]
    if db.vendor == "postgresql":
        name = f"{original}_{label}"[:63]
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _admin(f'CREATE DATABASE "{name}"')
    else:
        name = str(Path(original).with_name(f"{Path(original).stem}-{label}.sqlite3"))
        Path(name).unlink(missing_ok=True)
    connections.close_all()
    conf["NAME"] = name
    try:
        call_command("migrate", interactive=False, verbosity=0)
        yield name
    finally:
        connections.close_all()
        conf["NAME"] = original
        if db.vendor == "postgresql":
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            Path(name).unlink(missing_ok=True)


def _admin(sql: str) -> None:
    """A statement outside any transaction, on the server's maintenance database."""
    import psycopg

    conf = settings.DATABASES["default"]
    with psycopg.connect(
        dbname="postgres",
        user=conf.get("USER") or None,
        password=conf.get("PASSWORD") or None,
        host=conf.get("HOST") or None,
        port=conf.get("PORT") or None,
        autocommit=True,
    ) as admin:
        admin.execute(sql)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc (0 where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_cpu() -> float | None:
    """CPU seconds the PostgreSQL server on this machine has used, its ended backends
    included (counted into the server process that waited for them); None where it is
    not here to see (SQLite runs inside the sync; a server elsewhere)."""
    if db.vendor != "postgresql":
        return None
    total, seen = 0.0, False
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() != "postgres":
                continue
            fields = (comm.parent / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seen = True
        total += sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime
    return total if seen else None


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far, from /proc/stat ((0, 0) where
    there is none)."""
    try:
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0, 0
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return sum(ticks) - idle, sum(ticks)


class SimulatorProcess:
    """``manage.py simulate`` in a process of its own, on a free loopback port."""

    def __init__(self, kind: str, token: str, *, seed: int = 1, scale: str = "", faults: str = ""):
        command = [sys.executable, "manage.py", "simulate", kind, "--token", token, "--seed", str(seed)]
        if scale:
            command += ["--scale", scale]
        if faults:
            command += ["--faults", faults]
        self.kind, self.token = kind, token
        self.process = subprocess.Popen(
            command, cwd=settings.BASE_DIR, stdout=subprocess.PIPE, text=True, env=child_env()
        )
        first = self.process.stdout.readline()
        if " on " not in first:
            self.stop()
            raise RuntimeError(f"the {kind} simulator did not start: {first!r}")
        self.url = first.split(" on ", 1)[1].split()[0]
        self.options: dict = {}
        if kind == "jobsplatform":  # the only one that names ids a connection must carry
            line = self.process.stdout.readline()
            self.options = json.loads(line.split(":", 1)[1])
        # Keep reading its output so it never blocks on a full pipe.
        threading.Thread(target=self.process.stdout.read, daemon=True).start()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def __enter__(self) -> SimulatorProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_celery(arguments: list[str], log: Path) -> subprocess.Popen:
    """``celery -A dashboard <arguments>`` on this database and broker, output to ``log``."""
    command = [sys.executable, "-m", "celery", "-A", "dashboard", *arguments, "--loglevel", "WARNING"]
    with open(log, "ab") as out:
        return subprocess.Popen(command, cwd=settings.BASE_DIR, env=child_env(), stdout=out, stderr=out)


def start_worker(n: int, scratch: Path, threads: int) -> subprocess.Popen:
    """A worker process with a thread pool, as deployed."""
    return start_celery(
        ["worker", "--pool", "threads", "--concurrency", str(threads), "-n", f"bench{n}@%h", "--without-gossip"],
        scratch / f"worker{n}.log",
    )


def stop_process(process: subprocess.Popen, wait: float = 30) -> None:
    """Ask it to stop, and kill it if it has not within ``wait`` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
