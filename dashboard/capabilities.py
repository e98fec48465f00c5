"""Which provider features apply here: a capability is present when some enabled
connection's adapter declares it. Navigation, overview pages and API lists of
provider-specific things (agents, deployments, retention, schedules) exist only then."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import Http404

from dashboard.models import Connection
from providers.base.adapter import Capability
from providers.registry import KINDS, adapter_class


def present() -> frozenset[Capability]:
    kinds = set(Connection.objects.filter(enabled=True).values_list("kind", flat=True).distinct())
    found: set[Capability] = set()
    for kind in kinds & set(KINDS):
        found |= adapter_class(kind).capabilities
    return frozenset(found)


def kinds_with(capability: Capability) -> list[str]:
    return [kind for kind in KINDS if capability in adapter_class(kind).capabilities]


def requires(capability: Capability) -> Callable:
    """A view (function, or a DRF view's ``get``) that exists only while some
    connection has ``capability``."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if capability not in present():
                raise Http404("No connected provider has this.")
            return view(*args, **kwargs)

        return wrapped

    return decorate
