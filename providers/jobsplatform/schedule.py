"""Cron for the jobs platform (docs/providers/jobsplatform.md, "Schedules"): validation
(5 fields, UTC), fire times, and the missed-fire rule. The simulator's scheduler, the
forms and the adapter all use these, so what we refuse, what the simulator fires and
what we flag as missed agree."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from croniter import CroniterBadDateError, croniter

# A fire whose run has not shown up this long after its time counts as missed.
MISSED_GRACE = timedelta(seconds=60)
_TICK = timedelta(microseconds=1)


def cron_problem(expression: str) -> str:
    """Why a cron expression is refused, in words; "" when it is fine."""
    fields = expression.split()
    if len(fields) != 5:
        return (
            f"{expression!r} has {len(fields)} field(s); a schedule needs 5 "
            "(minute hour day-of-month month day-of-week), for example '*/5 * * * *'."
        )
    if not croniter.is_valid(expression):
        return f"{expression!r} is not a valid cron expression (minute hour day-of-month month day-of-week)."
    try:
        croniter(expression, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except CroniterBadDateError:
        return f"{expression!r} never fires (no such date)."
    return ""


def _utc(moment: datetime | float) -> datetime:
    if isinstance(moment, datetime):
        return moment.astimezone(UTC)
    return datetime.fromtimestamp(moment, tz=UTC)


def next_fire(expression: str, after: datetime | float) -> datetime | None:
    """The first fire strictly after ``after``; None when it never fires."""
    try:
        return croniter(expression, _utc(after)).get_next(datetime)
    except (CroniterBadDateError, ValueError, KeyError):
        return None


def last_fire(expression: str, at_or_before: datetime | float) -> datetime | None:
    """The latest fire at or before the moment; None when there is none."""
    try:
        return croniter(expression, _utc(at_or_before) + _TICK).get_prev(datetime)
    except (CroniterBadDateError, ValueError, KeyError):
        return None


def fires_between(expression: str, after: datetime | float, until: datetime | float) -> Iterator[datetime]:
    """Fire times in ``(after, until]``, oldest first."""
    end = _utc(until)
    moment = next_fire(expression, after)
    while moment is not None and moment <= end:
        yield moment
        moment = next_fire(expression, moment)


def missed_fire(
    expression: str,
    *,
    now: datetime,
    next_fire_at: datetime | None,
    last_run_at: datetime | None,
    since: datetime | None,
) -> datetime | None:
    """The fire time that passed without a run, or None.

    Two ways a fire is missed: the platform's next fire time is already well in the past
    (its scheduler is stalled), or the most recent fire that is older than the grace
    period has no scheduled run at or after it. Fires before ``since`` (when the job or
    its schedule last changed) are not expected."""
    if next_fire_at is not None and next_fire_at < now - MISSED_GRACE:
        return next_fire_at
    expected = last_fire(expression, now - MISSED_GRACE)
    if expected is None or (since is not None and expected < since):
        return None
    if last_run_at is None or last_run_at < expected:
        return expected
    return None
