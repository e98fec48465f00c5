"""What a long-lived process does once its code is loaded."""

import gc

from django.conf import settings
from django.core.cache import caches


def settle() -> None:
    """Load now what a first request or sync would otherwise load on its own time (every
    view, every provider's adapter, the Redis client behind the cache), then move
    everything loaded so far out of the cyclic collector's way (``gc.freeze``). It lives
    as long as the process, and otherwise every full collection walks it again: about
    140,000 objects, a collection now and then that costs a request tens of
    milliseconds."""
    from django.urls import get_resolver

    from dashboard.cache import SharedPoolRedisCache
    from providers.registry import KINDS, adapter_class

    get_resolver().url_patterns  # noqa: B018 (imports the views)
    for kind in KINDS:
        adapter_class(kind)
    for alias in settings.CACHES:
        backend = caches[alias]
        if isinstance(backend, SharedPoolRedisCache):
            # Imports redis-py and makes the process's client; it connects on first use,
            # so a Redis that is down now does not stop the process from starting.
            backend._cache  # noqa: B018
    gc.collect()
    gc.freeze()
