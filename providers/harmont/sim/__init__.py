"""A fake Harmont for tests, the demo and benchmarks (docs/providers/harmont.md,
"Simulator" and "Faults"); production code never imports it."""

from .server import HarmontSimulator

__all__ = ["HarmontSimulator"]
