"""What a long-lived process does once its code is loaded."""

import gc


def settle() -> None:
    """Import every view now rather than on the first request, then move everything
    loaded so far out of the cyclic collector's way (``gc.freeze``). It lives as long as
    the process, and otherwise every full collection walks it again: about 140,000
    objects, a collection now and then that costs a request tens of milliseconds."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (imports the views)
    gc.collect()
    gc.freeze()
