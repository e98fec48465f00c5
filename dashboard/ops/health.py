"""``/healthz``: is the database reachable, does the broker accept a connection, and has
beat dispatched due syncs recently? Answers 200 when all pass, 503 naming what failed.
``?checks=database,broker`` asks only some (a load balancer wants the web process
checked, not beat)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError
from django.db import connection as db
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.timesince import timesince

from .models import Heartbeat

log = logging.getLogger(__name__)

BEAT = "beat"


def record_heartbeat(name: str = BEAT) -> None:
    """Note that a periodic job just ran (beat's dispatch calls this). Never in the way of
    the job itself: a database hiccup here is logged, and the next run notes it again."""
    try:
        Heartbeat.objects.update_or_create(name=name, defaults={"at": timezone.now()})
    except DatabaseError as exc:
        log.warning("could not record the %s heartbeat: %s", name, exc)


def beat_max_age() -> timedelta:
    """How stale beat's last dispatch may be: a few dispatch periods, at least a minute."""
    seconds = settings.HEALTHZ_BEAT_MAX_AGE or max(60.0, 6 * settings.SYNC_DISPATCH_EVERY)
    return timedelta(seconds=seconds)


def check_database() -> str:
    with db.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "reachable"


def check_broker() -> str:
    from dashboard.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=settings.HEALTHZ_TIMEOUT)
        return f"{conn.transport_cls} connected"


def check_beat() -> str:
    beat = Heartbeat.objects.filter(name=BEAT).first()
    if beat is None:
        raise RuntimeError("beat has not dispatched yet (is `celery beat` running?)")
    age = timezone.now() - beat.at
    if age > beat_max_age():
        raise RuntimeError(f"beat last dispatched {timesince(beat.at)} ago (is `celery beat` running?)")
    return f"dispatched {int(age.total_seconds())} s ago"


CHECKS: dict[str, Callable[[], str]] = {"database": check_database, "broker": check_broker, "beat": check_beat}


def run_checks(names: list[str]) -> tuple[bool, dict[str, dict]]:
    results: dict[str, dict] = {}
    for name in names:
        try:
            results[name] = {"ok": True, "detail": CHECKS[name]()}
        except Exception as exc:
            results[name] = {"ok": False, "error": f"{exc.__class__.__name__}: {exc}"[:500]}
    return all(r["ok"] for r in results.values()), results


def healthz(request: HttpRequest) -> JsonResponse:
    wanted = [n.strip() for n in request.GET.get("checks", "").split(",") if n.strip()] or list(CHECKS)
    unknown = [n for n in wanted if n not in CHECKS]
    if unknown:
        return JsonResponse(
            {"error": f"Unknown check(s) {', '.join(unknown)}; known: {', '.join(CHECKS)}."}, status=400
        )
    ok, results = run_checks(wanted)
    failed = [name for name, result in results.items() if not result["ok"]]
    body = {"status": "ok" if ok else "failing", "failed": failed, "checks": results}
    response = JsonResponse(body, status=200 if ok else 503)
    response["Cache-Control"] = "no-store"
    return response


class OpsEndpointsMiddleware:
    """Answers ``/healthz`` and ``/metrics`` before anything else: probes and scrapers call
    by IP address, which ALLOWED_HOSTS would refuse, and neither answer builds a URL from
    the Host header (the reason for ALLOWED_HOSTS). No login, no session, no CSRF."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == "/healthz":
            return healthz(request)
        if request.path_info == "/metrics":
            from .metrics import metrics_view

            return metrics_view(request)
        return self.get_response(request)
