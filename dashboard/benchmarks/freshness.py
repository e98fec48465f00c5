"""How long after a change at the provider an open builds list shows it: a new build on
screen, and a finished build's final state, with a connection syncing every 5 s.

Every part is real and in a process of its own: a prunner simulator whose builds arrive
every few seconds and run for tens of seconds, Celery beat and one worker (thread pool)
on Redis and PostgreSQL, and gunicorn serving the dashboard. Logged-in clients (a few
pages open at once) poll the builds list's first page the way its htmx does (``hx-get``
with the ``seen`` marker every second, ``HX-Request``), and note when each build first
appears in an answer and when it first appears finished. The simulator says when each build arrived and finished
(``EVENTS_PATH``, outside the provider's API); both clocks are this machine's."""

from __future__ import annotations

import html
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connection as db
from django.utils import timezone

from dashboard import freshness
from dashboard.models import Connection, SyncRun
from dashboard.roles import VIEWER_GROUP
from dashboard.states import FINISHED
from dashboard.sync import sync_connection
from providers.base.sim import EVENTS_PATH

from .common import Row, SimulatorProcess, child_env, percentile, start_celery, start_worker, stop_process

TOKEN = "bench-freshness"
INTERVAL = 5  # the connection's sync interval (seconds)
TARGET = INTERVAL + 2  # what "fresh" promises: on screen within the interval and 2 s
# Six pipelines (prunner refuses the rollback one's jobs), a new job every 2 s in turn;
# jobs run 10-60 s. Enough history that retention never removes a job under measure,
# and few enough new jobs in a window that all stay on the list's first page (50).
ARRIVAL_EVERY = 2
SCALE = f"projects=6,builds=10,jobs=3,arrival_every={ARRIVAL_EVERY}"
THREADS = 4
# Open pages polling at once, their seconds evenly out of phase: a change's wait for the
# next poll is then spread over the whole second, as across users, not fixed by one page.
PAGES = 4
USERNAME, PASSWORD = "bench-viewer", "bench-freshness-password"
ROW = re.compile(r'<tr class="build-row state-row-([a-z_]+)" data-external-id="([^"]+)"')
POLL_URL = re.compile(r'<div id="builds"[^>]*\shx-get="([^"]+)"')


@dataclass
class Event:
    id: str
    arrived: float
    finished: float | None


@dataclass
class Seen:
    """One 200 answer to a poll: when it arrived, and each build it shows with its state."""

    at: float
    states: dict[str, str]


@dataclass
class Delays:
    # (when it happened at the provider, when an answer first showed it), per change.
    arrivals: list[tuple[float, float]] = field(default_factory=list)
    finishes: list[tuple[float, float]] = field(default_factory=list)
    # Changes in the window that no answer showed before polling stopped.
    arrivals_missed: int = 0
    finishes_missed: int = 0

    @property
    def arrived(self) -> list[float]:
        return [shown - happened for happened, shown in self.arrivals]

    @property
    def finished(self) -> list[float]:
        return [shown - happened for happened, shown in self.finishes]


def match(events: Iterable[Event], seen: list[Seen], start: float, end: float) -> Delays:
    """For each build that arrived in [start, end): arrival -> the first answer showing it;
    for each build that finished in [start, end): finish -> the first answer showing it
    finished. ``seen`` is in time order; a 204 shows what the answer before it showed, so
    only 200 answers need be listed."""
    out = Delays()
    for event in events:
        if start <= event.arrived < end:
            shown = next((s.at for s in seen if event.id in s.states), None)
            if shown is None:
                out.arrivals_missed += 1
            else:
                out.arrivals.append((event.arrived, shown))
        if event.finished is not None and start <= event.finished < end:
            shown = next((s.at for s in seen if s.states.get(event.id) in FINISHED), None)
            if shown is None:
                out.finishes_missed += 1
            else:
                out.finishes.append((event.finished, shown))
    return out


def stages(changes: list[tuple[float, float]], sync_starts: list[float]) -> tuple[list[float], list[float]]:
    """Each change's delay split at the first sync that began after it: the wait for that
    sync (the interval's phase and the dispatch), then the sync, its commit and the poll."""
    waits, rest = [], []
    ordered = sorted(sync_starts)
    for happened, shown in changes:
        start = next((t for t in ordered if t >= happened), None)
        if start is not None and start <= shown:
            waits.append(start - happened)
            rest.append(shown - start)
    return waits, rest


def parse_rows(page: str) -> dict[str, str]:
    return {external_id: state for state, external_id in ROW.findall(page)}


def poll_url(page: str) -> str:
    found = POLL_URL.search(page)
    if found is None:
        raise RuntimeError("the builds list carries no polling URL")
    return html.unescape(found.group(1))


def figures(quick: bool) -> list[Row]:
    if db.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis"):
        return [Row("freshness", "", "skipped", "needs PostgreSQL (DATABASE_URL) and Redis (CELERY_BROKER_URL)")]
    from dashboard.celery import app

    warmup, window, grace = (6.0, 15.0, 10.0) if quick else (10.0, 90.0, 15.0)
    scratch = Path(tempfile.mkdtemp(prefix="bench-freshness-"))
    processes: list[subprocess.Popen] = []
    with SimulatorProcess("prunner", TOKEN, seed=5, scale=SCALE) as sim:
        connection = Connection.objects.create(
            kind="prunner",
            name="freshness",
            slug="bench-freshness",
            base_url=sim.url,
            token=TOKEN,
            sync_interval=INTERVAL,
        )
        sync_connection(connection.pk)  # the history is in before the page opens
        Connection.objects.filter(pk=connection.pk).update(next_sync_at=timezone.now())
        user = User.objects.create_user(USERNAME, password=PASSWORD)
        user.groups.add(Group.objects.get(name=VIEWER_GROUP))
        try:
            app.control.purge()
            port = free_port()
            processes.append(start_web(port, scratch / "web.log"))
            processes.append(start_celery(["beat", "--schedule", str(scratch / "beat-schedule")], scratch / "beat.log"))
            processes.append(start_worker(1, scratch, THREADS))
            base = f"http://127.0.0.1:{port}"
            clients = [httpx.Client(base_url=base, timeout=10) for _ in range(PAGES)]
            try:
                wait_for(clients[0])
                for client in clients:
                    log_in(client)
                begun = time.time()
                until = time.monotonic() + warmup + window + grace
                lags = LagWatch(connection.pk)
                with ThreadPoolExecutor(PAGES - 1) as others:
                    pending = [
                        others.submit(poll, client, until, offset=k / PAGES)
                        for k, client in enumerate(clients[1:], start=1)
                    ]
                    pages = [poll(clients[0], until, each=lags.look), *(p.result() for p in pending)]
            finally:
                for client in clients:
                    client.close()
            events = [Event(**e) for e in httpx.get(sim.url + EVENTS_PATH, timeout=10).json()]
            starts = [
                t.timestamp()
                for t in SyncRun.objects.filter(connection=connection).values_list("started_at", flat=True)
            ]
        finally:
            for process in reversed(processes):
                stop_process(process)
            app.control.purge()
    start = begun + warmup
    found = Delays()
    for seen in pages:
        one = match(events, seen, start, start + window)
        found.arrivals += one.arrivals
        found.finishes += one.finishes
        found.arrivals_missed += one.arrivals_missed
        found.finishes_missed += one.finishes_missed
    size = f"1 prunner connection synced every {INTERVAL} s, a build arriving every {ARRIVAL_EVERY} s"
    method = (
        f"simulator, beat (dispatch every {settings.SYNC_DISPATCH_EVERY:g} s), 1 worker (--pool threads) on "
        f"Redis and PostgreSQL, gunicorn, each its own process; a logged-in client polls the builds list every "
        f"{freshness.POLL_SECONDS} s with the seen marker and HX-Request as the page does, {PAGES} such pages "
        f"{1 / PAGES:g} s apart in phase; provider event time "
        f"(simulator) -> first answer showing it, every change in a {window:.0f} s window after {warmup:.0f} s "
        f"warm-up; target p95 <= {TARGET} s"
    )
    waits, rest = stages(found.arrivals + found.finishes, starts)
    spread = [lag for at, lag in lags.lags if start <= at < start + window + grace]
    return [
        row("freshness: new build on screen", size, found.arrived, found.arrivals_missed, method),
        row("freshness: finished build on screen", size, found.finished, found.finishes_missed, method),
        Row(
            "freshness: where the time goes",
            size,
            f"to the next sync's start p50 {percentile(waits, 0.5):.1f} s, p95 {percentile(waits, 0.95):.1f} s; "
            f"sync start to screen p50 {percentile(rest, 0.5):.1f} s, p95 {percentile(rest, 0.95):.1f} s",
            f"both changes above, split at the first sync that began after each (its kept run's start); "
            f"syncs began p50 {percentile(spread, 0.5):.1f} s, p95 {percentile(spread, 0.95):.1f} s after falling "
            f"due ({len(spread)} syncs, the connection's lag read every poll)",
        ),
    ]


def row(measure: str, size: str, delays: list[float], missed: int, method: str) -> Row:
    if not delays:
        return Row(measure, size, "no changes seen", method)
    unshown = f"; {missed} not shown in time" if missed else ""
    figure = (
        f"p50 {percentile(delays, 0.5):.1f} s, p95 {percentile(delays, 0.95):.1f} s, "
        f"max {max(delays):.1f} s ({len(delays) // PAGES} builds x {PAGES} pages{unshown})"
    )
    return Row(measure, size, figure, method)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_web(port: int, log: Path) -> subprocess.Popen:
    """gunicorn serving the dashboard, as deployed, on loopback."""
    command = [
        sys.executable, "-m", "gunicorn", "dashboard.wsgi",
        "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4",
    ]  # fmt: skip
    with open(log, "ab") as out:
        return subprocess.Popen(command, cwd=settings.BASE_DIR, env=child_env(), stdout=out, stderr=out)


def wait_for(client: httpx.Client, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if client.get("/accounts/login/").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the web server did not start")
        time.sleep(0.2)


def log_in(client: httpx.Client) -> None:
    """Through the login form, with its CSRF token, as a browser would."""
    form = client.get("/accounts/login/").text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    answer = client.post(
        "/accounts/login/",
        data={"username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{client.base_url}accounts/login/"},
    )
    if answer.status_code != 302:
        raise RuntimeError(f"logging in failed: {answer.status_code}")


class LagWatch:
    """How late each sync of a connection began after falling due, read from the
    connection row more often than it syncs."""

    def __init__(self, connection_id: int):
        self.connection_id = connection_id
        self.count: int | None = None
        self.lags: list[tuple[float, float]] = []  # (when seen, seconds late)

    def look(self) -> None:
        count, lag = Connection.objects.filter(pk=self.connection_id).values_list("sync_count", "last_sync_lag").get()
        if self.count is not None and count > self.count and lag is not None:
            self.lags.append((time.time(), lag))
        self.count = count


def poll(
    client: httpx.Client, until: float, offset: float = 0.0, each: Callable[[], None] = lambda: None
) -> list[Seen]:
    """Open the builds list ``offset`` seconds from now, then poll it as its htmx does
    until ``until`` (monotonic): a request every second with the marker of the last
    answer drawn, 204s leaving it as it is. ``each`` runs after every answer."""
    time.sleep(offset)
    page = client.get("/builds/")
    page.raise_for_status()
    seen = [Seen(time.time(), parse_rows(page.text))]
    url = poll_url(page.text)
    headers = {
        "HX-Request": "true",
        "HX-Current-URL": f"{client.base_url}builds/",
        "HX-Target": "builds",
        "HX-Trigger": "builds",
    }
    tick = time.monotonic()
    while True:
        tick += freshness.POLL_SECONDS
        if tick > until:
            return seen
        time.sleep(max(tick - time.monotonic(), 0))
        answer = client.get(url, headers=headers)
        each()
        if answer.status_code == freshness.NO_CHANGE:
            continue
        answer.raise_for_status()
        seen.append(Seen(time.time(), parse_rows(answer.text)))
        url = poll_url(answer.text)
