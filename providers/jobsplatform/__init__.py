"""The jobs platform of seed 004 (product name unknown; shown as "Jobs platform").

Its public docs (ejjy-docs.pages.dev/api/jobs, see ../shared/providers/jobs-platform.md)
name the operations, fields, query parameters and run states, but no paths, verbs,
envelopes or payload shapes. The contract below is our most plausible reading of them;
it lives in ``contract.py`` (names used by both client and simulator), so when the real
API is known only that module (and this note) change.

Contract
- REST + JSON under ``{base_url}/v1``; ``Authorization: Bearer <token>``.
- ``/v1/workspaces/{workspace_id}/projects/{project_id}/jobs``: GET lists the jobs (by
  name), POST creates one (201). ``.../jobs/{job_id}``: GET, PATCH (partial: omitted
  fields unchanged; ``schedule: null`` makes the job on-demand; applies from the next
  run), DELETE (the job, all its runs, its schedule). ``.../jobs/{job_id}/status``,
  ``/logs``, ``/metrics`` (GET). ``.../jobs/{job_id}/runs``: GET lists every run newest
  first, POST triggers one (201, answered at once in ``pending``).
  ``.../runs/{run_id}`` GET; ``.../runs/{run_id}/cancel`` POST; ``.../runs/{run_id}/logs``.
  Lists are not paginated (the docs mention no paging).
- Every answer is ``{"status": "success"|"error", "message": str, "data": ...}``;
  errors use 400 (bad input; ``data.errors`` = {field: reason}), 401 (token), 404
  (unknown workspace/project/job/run), 409 (cancel of a finished run, duplicate job
  name), 429 (``Retry-After``), 5xx.
- Job: ``job_id, project_id, name, image, command`` (one shell string), ``schedule``
  (5-field cron in UTC, or null), ``tags`` (list of strings), ``env_vars`` ({NAME:
  value}), ``created_at, updated_at``. The docs list ``env vars`` only in prose; we send
  them as ``env_vars`` on create and update.
- Run: ``run_id, job_id, project_id, status`` (pending, running, succeeded, failed,
  cancelled), ``trigger`` (manual | schedule), ``image, command`` (the spec it ran
  with), ``created_at, started_at, finished_at, exit_code, error``.
- Status: ``job_id, latest_run, run_counts`` ({total, <each state>}) and, for scheduled
  jobs, ``schedule`` and ``next_fire_at``.
- Logs: ``since`` (seconds) or ``start`` (inclusive) / ``end`` (exclusive) in ISO 8601;
  ``limit`` (default 1000, at most 5000) keeps the *newest* entries of the window and
  sets ``data.truncated``; ``filter`` is a case-sensitive substring of the line.
  ``data.entries`` = [{timestamp, stream: stdout|stderr, line, run_id}], oldest first.
- Metrics: ``names`` (comma list; all when omitted: cpu_usage in cores, memory_usage in
  bytes), window as for logs (default the last hour). ``data`` = {name: {"status":
  "success", "unit", "series": [[unix seconds, value], ...]}} or {"status": "error",
  "message"} for a metric whose query failed; the request itself stays 200.
- Timestamps are ISO 8601 UTC with ``Z`` (fractions on log lines). The ``Date`` header
  is read as the platform's clock (to judge missed fires without clock skew).
- Project discovery (assumed, not on the stored pages): GET ``/v1/workspaces/{id}/projects``
  -> [{project_id, name}], used only when the connection has no ``project_ids``.

Connection options: ``workspace_id`` (required), ``project_ids`` (list; else discovered),
``backfill_runs`` (new runs read per job per sync, default 100).

Mapping: Project = project; Pipeline = job definition (``<project_id>:<job_id>``);
Schedule = the job's cron (same id; raw carries ``missed``/``missed_fire_at``); Build =
run (``<job_id>:<run_id>``, job ids assumed unique within a workspace) holding one Job,
the run itself (same id). States pending/running/succeeded/failed/cancelled ->
queued/running/passed/failed/canceled; anything else -> unknown with the raw value kept.
Stored logs render stderr in ANSI red and end with a dim "Run <state>, exit code N" line.

A fire counts as missed when the platform's next fire time is over a minute in the past,
or when the latest fire older than a minute (and after the job was last changed) has no
scheduled run at or after it (``schedule.missed_fire``).
"""
