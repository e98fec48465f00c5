"""A fake of Semaphore's HTTP API for tests, the demo and benchmarks, answering as
docs/providers/semaphore.md describes the real server; production code never imports it."""

from .server import SemaphoreSimulator

__all__ = ["SemaphoreSimulator"]
