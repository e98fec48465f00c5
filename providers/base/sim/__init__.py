"""What every provider simulator shares (development and tests only: production code
never imports a ``sim`` package)."""

from .simulator import EVENTS_PATH, Clock, Faults, RequestRecord, Scale, Simulator

__all__ = ["EVENTS_PATH", "Clock", "Faults", "RequestRecord", "Scale", "Simulator"]
