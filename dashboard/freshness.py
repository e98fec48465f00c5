"""Whether anything on a live page changed since the browser last rendered it, answered
with one small query instead of the page's own.

Each connection keeps a revision, bumped in the transaction of each batch that changed
rows (a sync's or an action's: ``dashboard.apply``) and after a sync that found
something (``sync_finished`` with a saved run). A page's marker hashes the revisions
and the health shown of the connections it draws from; the page polls with the marker
it holds (``seen``) and gets 204 No Content, which htmx leaves alone, until the marker
moves. Reading the marker before the page's rows means a change committed in between
is shown at the latest by the next poll, never lost."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse

from dashboard.models import Connection

# How often live pages ask (seconds); the template and the docs quote it.
POLL_SECONDS = 1
NO_CHANGE = 204


def bump(connection_id: int) -> None:
    Connection.objects.filter(pk=connection_id).update(revision=F("revision") + 1)


def marker_of(connections: Iterable[Connection]) -> str:
    """The marker of connections loaded with ``revision`` and the health fields."""
    parts = sorted((c.pk, c.revision, c.health_now.value, c.enabled) for c in connections)
    return hashlib.blake2b(repr(parts).encode(), digest_size=8).hexdigest()


def connections_for_marker(*fields: str, **lookup) -> QuerySet[Connection]:
    """Connections with what their marker needs (and ``fields`` the page shows)."""
    return Connection.objects.filter(**lookup).only("revision", *Connection.HEALTH_FIELDS, *fields)


def unchanged(request: HttpRequest, marker: str) -> HttpResponse | None:
    """204 for a poll whose page is still what the database holds."""
    if request.htmx and request.GET.get("seen") == marker:
        return HttpResponse(status=NO_CHANGE)
    return None


def on_sync_finished(sender, connection: Connection, run=None, **kwargs) -> None:
    # A saved run means the sync wrote or found something (a quiet one keeps no run),
    # for instance rows it marked gone.
    if run is not None and run.pk:
        bump(connection.pk)


def connect() -> None:
    from dashboard.signals import sync_finished

    sync_finished.connect(on_sync_finished, dispatch_uid="freshness.sync_finished")
