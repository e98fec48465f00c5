"""What every provider simulator shares (development and tests only: production code
never imports a ``sim`` package)."""

from .simulator import Clock, Faults, RequestRecord, Scale, Simulator

__all__ = ["Clock", "Faults", "RequestRecord", "Scale", "Simulator"]
