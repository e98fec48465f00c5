"""The Redis cache: the threads of a process share its connections."""

import threading
import uuid

import pytest
import redis
from django.conf import settings
from django.core.cache import cache, caches

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="the cache is Redis only where REDIS_URL is set")


def connections_received(server: redis.Redis) -> int:
    return server.info("stats")["total_connections_received"]


def test_new_threads_reuse_the_processs_redis_connections():
    """A sync's helper threads are short-lived: each one greeting Redis anew cost a
    connection per read."""
    key = f"shared-{uuid.uuid4().hex}"
    cache.set(key, "from the main thread", 60)
    server = redis.Redis.from_url(settings.REDIS_URL)
    seen: list[str | None] = []
    before = connections_received(server)
    for _ in range(20):  # one after another: one connection in the pool serves them all
        thread = threading.Thread(target=lambda: seen.append(cache.get(key)))
        thread.start()
        thread.join()
    opened = connections_received(server) - before
    server.close()
    assert seen == ["from the main thread"] * 20
    # The counter is the server's: a little room for another client connecting meanwhile.
    assert opened <= 5, f"{opened} new Redis connections for 20 threads' reads"


def test_every_thread_gets_the_same_client():
    from dashboard.cache import SharedPoolRedisCache

    clients = []
    for _ in range(3):
        thread = threading.Thread(target=lambda: clients.append(caches["default"]._cache))
        thread.start()
        thread.join()
    assert isinstance(caches["default"], SharedPoolRedisCache)
    assert len({id(c) for c in clients}) == 1 and clients[0] is caches["default"]._cache
