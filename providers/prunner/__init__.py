"""prunner (Flowpack/prunner, an embedded task runner): client, adapter and simulator.

References: ``shared/providers/prunner.md`` and ``prunner-swagger.yml`` (copied here,
verbatim, for the contract tests), checked against server.go/prunner.go at b692da9.

Modules: ``client`` (HTTP, a JWT per request), ``mapping`` (JSON -> records, the derived
job state), ``adapter`` (sync, logs, actions, panels), ``forms`` (schedule variables),
``tokens`` (mint/verify JWTs), and for the simulator ``plans`` (pipelines.yml and job
plans), ``run`` (one job's course), ``world`` (scheduling, queues, retention),
``simulator`` (HTTP).

Assumptions where the docs are silent, or where we chose:
- Auth: the connection's token is the JWT secret. Each request carries a fresh HS256
  token ``{"sub", "iat", "exp": iat+60}``; ``sub`` is "ci-dashboard" for syncs and the
  acting user's username for actions (prunner stores the scheduler's ``sub`` as the
  job's ``user``).
- Sync reads only ``GET /pipelines/jobs``: it carries the pipelines too, and its jobs are
  the same objects ``/job/detail`` returns, so no job is fetched twice and a finished job
  is never converted or written again.
- A job absent from the listing was removed by prunner's retention: it is kept, marked
  gone (the cursor holds the ids listed last time).
- Build state order (prunner.md 3.7): canceled, completed+errored (failed), completed
  (passed), started (running, also when a task already failed), else queued. raw_state
  names the flags: canceled, completed/errored, completed, started[/errored], waiting.
- Tasks keep prunner's status as raw_state. A task still ``waiting`` in a failed job
  (fail-fast stopped before it) is shown skipped; in a canceled job, canceled. Exit
  codes are kept once a task has ended (prunner sends 0 before). Canceled tasks carry
  exit code -1 in the simulator (a process killed by a signal, as Go reports it).
- Logs: stdout as it is, stderr lines in red (SGR 31), stdout first within one fetch
  (prunner does not record the interleaving); a line left open is ended before the
  other stream continues. A log is complete once the task has ended. A job dropped by
  retention gets a one-line note and a complete log.
- Schedule: variables are ``name=value`` lines, JSON when they read as JSON (lists,
  objects, numbers, booleans, quoted strings), text otherwise (``null`` stays text).
  ``queuePartition`` is sent only when given: the API does not say which pipelines use
  ``partitioned_replace``, and others ignore it.
- "Not schedulable" is the pipeline's ``schedulable: false`` from the last sync.
- Cancel of a finished job: prunner's 500 ``Error canceling job`` is a refusal
  (Rejected), not an outage. Cancel is retried on 5xx (repeating it is harmless);
  schedule never is.
- Simulator: see ``simulator.py`` and ``run.py``. It follows prunner's README for
  ``queue_limit: 0`` (refused only while the concurrency is used up; prunner b692da9's
  code refuses it always), drops cancelled jobs from the wait list (prunner leaves them
  there), validates JWT time claims against the real clock (iat, then exp, then nbf),
  and applies retention immediately rather than at prunner's debounced store save.
"""
