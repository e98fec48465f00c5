"""Harmont (harmont.dev), Cloud API v0.

Reference: ``shared/providers/harmont.md`` and Harmont's published
``harmont-openapi.public.json``; the simulator in this package is tested against that
spec. Modules: ``client`` (HTTP, errors, paging, the log stream), ``adapter`` (neutral
records, sync, logs, panels), ``logstream`` (SSE reading and rendering), ``actions``
(trigger / rebuild / cancel), ``simulator`` + ``sim_logs`` + ``world`` (the fake Harmont).

Assumptions where Harmont's docs are silent:
- **Artifacts**: the seed says jobs "list artifacts", the spec has no such endpoint. We
  assume ``GET /api/v0/organizations/{org}/pipelines/{pipeline}/builds/{number}/jobs/
  {job_id}/artifacts`` -> ``{"data": [{"name", "path", "size", "content_type", "url",
  "created_at"}]}``. A 404 (Harmont's Phoenix ``Not Found`` today) hides the section.
- **Rebuild** is a new build with the same branch, commit and message (no retry endpoint;
  the original ``env`` is not readable, so it is not repeated).
- **Soft-failed jobs** map to FAILED (the command failed); ``raw["soft_failed"]`` and the
  job panel say the build was allowed to continue.
- **Build numbers** grow with creation order, so the newest number a finished scan saw
  is a safe high-water mark for the newest-first build list.
- **Log completeness**: ``done`` only follows a 15 s heartbeat, so a log is also taken
  as complete when the job finished over ``log_settle_seconds`` (30) ago and the
  stream's full ``history`` replay was read.
- **Web links**: Harmont's web URLs are undocumented; ``options["web_url"]`` may give a
  template, otherwise builds have no "Open in Harmont" link.
- The shapes of ``retry_policy`` / ``soft_fail_policy`` are free-form; kept in ``raw``.
"""
