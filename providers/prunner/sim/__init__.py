"""A fake of the provider's HTTP API for tests, the demo and benchmarks; production code
never imports it."""

from .server import PrunnerSimulator

__all__ = ["PrunnerSimulator"]
