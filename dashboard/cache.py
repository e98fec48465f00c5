"""Django's Redis cache with one connection pool per process rather than per thread.

Django gives every thread a cache object of its own, and its Redis cache keeps the
connection pool on that object: each new thread opens, and greets, Redis connections
of its own. A sync reads a provider from short-lived helper threads
(``BaseClient.concurrently``), so every read there that asked the cache (Semaphore's
jobs API choice, Harmont's log tokens) opened a new connection: about a third of a
Semaphore first sync's CPU went to connecting. Here the threads of a process share one
client and so one pool (redis-py's pool is thread-safe, and starts afresh in a forked
child)."""

from __future__ import annotations

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property

_clients: dict[tuple, RedisCacheClient] = {}
_lock = threading.Lock()


class SharedPoolRedisCache(RedisCache):
    @cached_property
    def _cache(self) -> RedisCacheClient:
        key = (self._class, tuple(self._servers), repr(sorted(self._options.items())))
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._class(self._servers, **self._options)
        return client
