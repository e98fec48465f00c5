"""The explicit map from a connection's kind to its provider package.

Adapters are imported on first use, so loading the models never imports httpx clients."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from providers.base.adapter import Adapter
    from providers.base.sim import Simulator

KINDS: dict[str, str] = {
    "semaphore": "Semaphore",
    "harmont": "Harmont",
    "prunner": "Prunner",
    "jobsplatform": "JobsPlatform",
}
# What people read, where it differs from the class-name prefix above.
LABELS: dict[str, str] = {**KINDS, "jobsplatform": "Jobs platform"}
KIND_CHOICES = [(kind, LABELS[kind]) for kind in KINDS]

_ADAPTERS = {kind: f"providers.{kind}.adapter.{name}Adapter" for kind, name in KINDS.items()}
_SIMULATORS = {kind: f"providers.{kind}.sim.{name}Simulator" for kind, name in KINDS.items()}


def _load(dotted: str):
    module, _, attr = dotted.rpartition(".")
    return getattr(import_module(module), attr)


def adapter_class(kind: str) -> type[Adapter]:
    return _load(_ADAPTERS[kind])


def simulator_class(kind: str) -> type[Simulator]:
    return _load(_SIMULATORS[kind])
