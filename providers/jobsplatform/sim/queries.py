"""The simulator's reading of requests and its log and metric queries, as
docs/providers/jobsplatform.md ("The contract we assume": logs, metrics, errors) says the
platform answers them: pure functions of the query arguments, the runs and the time, so
the HTTP handlers stay thin."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from werkzeug.datastructures import MultiDict

from .. import contract as c
from ..schedule import cron_problem
from .world import Run

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Refusal(Exception):
    """An error answer: HTTP status, message and (for a 400) the fields at fault."""

    def __init__(self, status: int, message: str, errors: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors


def micros(ts: float) -> int:
    return round(ts * 1_000_000)


def moment(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def stamp(ts: float | None) -> str | None:
    return None if ts is None else c.format_time(moment(micros(ts)))


def validate_job(payload: dict, *, partial: bool) -> dict:
    """The writable fields present in the body, checked; a 400 naming each bad one."""
    fields = {k: payload[k] for k in c.JOB_FIELDS if k in payload}
    errors: dict[str, str] = {}
    for key in (c.NAME, c.IMAGE):
        if (key in fields or not partial) and (not isinstance(fields.get(key), str) or not fields[key].strip()):
            errors[key] = f"{key} must be a non-empty string."
    if c.COMMAND in fields and not isinstance(fields[c.COMMAND], str | None):
        errors[c.COMMAND] = "command must be a string."
    schedule = fields.get(c.SCHEDULE)
    if schedule not in (None, ""):
        problem = cron_problem(schedule) if isinstance(schedule, str) else "must be a string."
        if problem:
            errors[c.SCHEDULE] = f"schedule {problem}"
    tags = fields.get(c.TAGS)
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        errors[c.TAGS] = "tags must be a list of strings."
    env = fields.get(c.ENV_VARS)
    if env is not None and not (isinstance(env, dict) and all(isinstance(v, str) for v in env.values())):
        errors[c.ENV_VARS] = "env_vars must be an object of strings."
    if errors:
        raise Refusal(400, "Invalid job: " + " ".join(errors.values()), errors)
    for key in (c.NAME, c.IMAGE):
        if key in fields:
            fields[key] = fields[key].strip()
    return fields


def window(args: MultiDict, now: float, default_since: float | None) -> tuple[int, int]:
    """[start, end) in microseconds from ``since`` or ``start``/``end``."""
    now_us = micros(now)
    if args.get(c.SINCE) and (args.get(c.START) or args.get(c.END)):
        raise Refusal(400, "Use either since or start/end, not both.")
    if args.get(c.SINCE):
        try:
            since = float(args[c.SINCE])
        except ValueError:
            since = -1
        if since <= 0:
            raise Refusal(400, "since must be a positive number of seconds.")
        return now_us - micros(since), now_us + 1
    start, end = iso_param(args.get(c.START), c.START), iso_param(args.get(c.END), c.END)
    if start is None and end is None and default_since is not None:
        return now_us - micros(default_since), now_us + 1
    if start is not None and end is not None and end <= start:
        raise Refusal(400, "end must be later than start.")
    return (start if start is not None else 0), (end if end is not None else now_us + 1)


def iso_param(value: str | None, name: str) -> int | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Refusal(400, f"{name} must be an ISO 8601 time such as 2026-04-22T15:30:00Z.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return (parsed - EPOCH) // timedelta(microseconds=1)


def select_logs(args: MultiDict, runs: list[Run], now: float) -> dict:
    """The newest ``limit`` lines of the window that contain ``filter``, oldest first."""
    start, end = window(args, now, None)
    raw_limit = args.get(c.LIMIT, str(c.DEFAULT_LOG_LIMIT))
    limit = int(raw_limit) if raw_limit.isdigit() else 0
    if not 1 <= limit <= c.MAX_LOG_LIMIT:
        raise Refusal(400, f"limit must be a whole number from 1 to {c.MAX_LOG_LIMIT}.")
    needle = args.get(c.FILTER, "")
    found = []
    for order, run in enumerate(sorted(runs, key=lambda r: r.created)):
        if micros(run.created) >= end:
            continue
        for index, (ts, stream, line) in enumerate(run.log(now)):
            us = micros(ts)
            if start <= us < end and needle in line:
                found.append((us, order, index, stream, line, run.id))
    found.sort()
    entries = [
        {c.TIMESTAMP: c.format_time(moment(us)), c.STREAM: stream, c.LINE: line, c.RUN_ID: run_id}
        for us, _, _, stream, line, run_id in found[-limit:]
    ]
    return {c.ENTRIES: entries, c.TRUNCATED: len(found) > limit}


def metrics(args: MultiDict, runs: list[Run], now: float, failing: dict[str, str]) -> tuple[dict, str]:
    """Each requested metric's series, or its own error; and the envelope's message."""
    start, end = window(args, now, c.DEFAULT_METRICS_WINDOW)
    names = [n.strip() for n in args.get(c.NAMES, "").split(",") if n.strip()] or list(c.METRICS)
    first, last = start / 1e6, min(end / 1e6, now)
    times: list[int] = []
    if last > first:
        step = max(c.MIN_METRIC_STEP, math.ceil((last - first) / c.METRIC_POINTS))
        times = [k * step for k in range(math.ceil(first / step), math.floor(last / step) + 1)]
    active = [r for r in runs if r.start <= last and (r.finished_at(now) or now) >= first]
    data: dict[str, dict] = {}
    for name in names:
        if name in failing:
            data[name] = {c.STATUS: c.ERROR, c.MESSAGE: failing[name]}
        elif name not in c.METRICS:
            known = ", ".join(c.METRICS)
            data[name] = {c.STATUS: c.ERROR, c.MESSAGE: f"Unknown metric {name!r}; available: {known}."}
        else:
            series = [[t, sample(name, active, t)] for t in times]
            data[name] = {c.STATUS: c.SUCCESS, c.UNIT: c.METRICS[name], c.SERIES: series}
    failed = sum(1 for d in data.values() if d[c.STATUS] == c.ERROR)
    return data, "All metrics succeeded" if not failed else f"{failed} of {len(data)} metrics failed"


def sample(name: str, runs: list[Run], t: float) -> float:
    """CPU is the average over the runs in flight (instances), memory their total."""
    usage = [u for u in (r.usage(t) for r in runs) if u is not None]
    if not usage:
        return 0.0
    if name == c.CPU_USAGE:
        return round(sum(u[0] for u in usage) / len(usage), 3)
    return float(round(sum(u[1] for u in usage)))
