"""A fake of the jobs platform's HTTP API for tests, the demo and benchmarks
(docs/providers/jobsplatform.md, "Simulator" and "Faults"); production code never
imports it."""

from .server import JobsPlatformSimulator

__all__ = ["JobsPlatformSimulator"]
