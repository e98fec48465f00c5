"""The one place where the jobs platform's wire contract is written down
(docs/providers/jobsplatform.md, "The contract we assume").

The platform's public docs name the operations, fields, query parameters and run
states, but not the paths, verbs, envelopes or payload shapes. Everything here is our
reading of them. The client, the mapping, the panels and the simulator all use these
names, so when the real API is known this module (and the doc) is what changes; it is
kept apart from ``client.py`` so that the pure mapping and the simulator need not import
the HTTP client to name a field.
"""

from __future__ import annotations

from datetime import UTC, datetime

# Transport ------------------------------------------------------------------------------
PREFIX = "/v1"
AUTH_SCHEME = "Bearer"

# Paths: str.format templates. The simulator turns {name} into a Werkzeug <name> rule.
WORKSPACE = PREFIX + "/workspaces/{workspace_id}"
PROJECTS = WORKSPACE + "/projects"  # assumed: not on the stored pages; used only for discovery
JOBS = PROJECTS + "/{project_id}/jobs"
JOB = JOBS + "/{job_id}"
JOB_LOGS = JOB + "/logs"
JOB_METRICS = JOB + "/metrics"
JOB_STATUS = JOB + "/status"
RUNS = JOB + "/runs"
RUN = RUNS + "/{run_id}"
RUN_CANCEL = RUN + "/cancel"
RUN_LOGS = RUN + "/logs"

# Verbs that the docs do not give (list/get are GET, create/trigger POST).
UPDATE_METHOD = "PATCH"
DELETE_METHOD = "DELETE"
CANCEL_METHOD = "POST"

# Envelope: every answer, success or error -------------------------------------------------
STATUS = "status"
MESSAGE = "message"
DATA = "data"
SUCCESS = "success"
ERROR = "error"
ERRORS = "errors"  # data.errors on a 400: {field: reason}

# Job (a definition) -----------------------------------------------------------------------
JOB_ID = "job_id"
PROJECT_ID = "project_id"
NAME = "name"
IMAGE = "image"
COMMAND = "command"  # one string, shell form
SCHEDULE = "schedule"  # 5-field cron, UTC, or null for on-demand jobs
TAGS = "tags"  # list of strings
ENV_VARS = "env_vars"  # {NAME: value}
CREATED_AT = "created_at"
UPDATED_AT = "updated_at"
JOB_FIELDS = (NAME, IMAGE, COMMAND, SCHEDULE, TAGS, ENV_VARS)  # writable on create and update

# Run (one invocation) ---------------------------------------------------------------------
RUN_ID = "run_id"
RUN_STATUS = "status"
TRIGGER = "trigger"
STARTED_AT = "started_at"
FINISHED_AT = "finished_at"
EXIT_CODE = "exit_code"
RUN_ERROR = "error"

PENDING = "pending"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"  # the docs' British spelling
RUN_STATES = (PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED)
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})
CANCELLABLE = frozenset({PENDING, RUNNING})

MANUAL = "manual"
SCHEDULED = "schedule"

# Job status -------------------------------------------------------------------------------
LATEST_RUN = "latest_run"
RUN_COUNTS = "run_counts"  # {"total": n, "<state>": n for each run state}
TOTAL = "total"
NEXT_FIRE_AT = "next_fire_at"  # with SCHEDULE, for scheduled jobs only

# Logs ---------------------------------------------------------------------------------------
SINCE = "since"  # seconds back from now
START = "start"  # ISO 8601, inclusive
END = "end"  # ISO 8601, exclusive
LIMIT = "limit"  # most entries; the newest are kept
FILTER = "filter"  # case-sensitive substring of the line
DEFAULT_LOG_LIMIT = 1000
MAX_LOG_LIMIT = 5000

ENTRIES = "entries"
TRUNCATED = "truncated"  # more entries matched than `limit`; the older ones were left out
TIMESTAMP = "timestamp"
STREAM = "stream"
LINE = "line"
STDOUT = "stdout"
STDERR = "stderr"

# Metrics ----------------------------------------------------------------------------------
NAMES = "names"  # comma-separated; all metrics when omitted
CPU_USAGE = "cpu_usage"  # cores, average across instances
MEMORY_USAGE = "memory_usage"  # bytes, total across instances
METRICS = {CPU_USAGE: "cores", MEMORY_USAGE: "bytes"}
UNIT = "unit"
SERIES = "series"  # [[unix seconds, value], ...], oldest first
DEFAULT_METRICS_WINDOW = 3600
METRIC_POINTS = 120  # the series step is the window divided by this, at least 10 s
MIN_METRIC_STEP = 10


def format_time(moment: datetime | float) -> str:
    """ISO 8601 in UTC with ``Z``; fractions only when there are any (log lines need them)."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, tz=UTC)
    moment = moment.astimezone(UTC)
    pattern = "%Y-%m-%dT%H:%M:%S.%fZ" if moment.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return moment.strftime(pattern)
