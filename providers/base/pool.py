"""HTTP clients shared within a process: building one (TLS context, certificates,
connection pool) costs tens of milliseconds, and a sync or a panel needs the same one
every time. Keyed by whoever uses it (a connection's id and use), the base URL, the
timeout and a fingerprint of the token, so a changed address or token gets a new client;
httpx clients are safe to share between threads. Only the httpx client is shared: each
sync or page still gets its own ``BaseClient`` with its own budget, deadline and counts."""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable

import httpx

from . import outbound

# Clients kept per process; the least recently used one is dropped (not closed: another
# thread may be using it; its sockets close when it is collected).
MAX_CLIENTS = 2048

_clients: OrderedDict[tuple, httpx.Client] = OrderedDict()
_lock = threading.Lock()


def token_fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def shared(key: tuple, make: Callable[[], httpx.Client]) -> httpx.Client:
    """The process's client for ``key``, made with ``make`` the first time."""
    with _lock:
        client = _clients.get(key)
        if client is not None and not client.is_closed:
            _clients.move_to_end(key)
            return client
        client = make()
        _clients[key] = client
        while len(_clients) > MAX_CLIENTS:
            _clients.popitem(last=False)
        return client


def release(client: httpx.Client) -> None:
    """Close the client's idle connections (the sync or page that used it is done): the
    next use comes after httpx's keep-alive expiry anyway (5 s) for syncs and most pages,
    and a worker syncing many connections would otherwise hold a socket for each."""
    transport = transport_of(client)
    if isinstance(transport, outbound.PolicyTransport):
        transport.close_idle()


def forget() -> None:
    """Drop every shared client (a forked child must not use its parent's sockets)."""
    with _lock:
        _clients.clear()


def size() -> int:
    return len(_clients)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=forget)


def transport_of(client: httpx.Client) -> httpx.BaseTransport:
    """The transport ``client`` was made with."""
    return client._transport
