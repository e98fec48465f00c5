"""Semaphore CI (API v1alpha, and the v2 jobs resource): pipelines as builds, grouped by
workflow; agents, deployment targets and artifact retention. What the code relies on
about Semaphore's API is in docs/providers/semaphore.md.

``client/`` (HTTP calls, one module per feature), ``mapping/`` (JSON -> records),
``adapter.py`` (the sync), ``actions/`` (buttons), ``panels.py``, ``logs.py`` (log
sections, log-store redirects), ``globs.py`` (retention selectors), ``sim/`` (a fake
Semaphore for tests and the demo)."""
