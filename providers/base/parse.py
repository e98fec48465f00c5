"""Defensive readers for provider JSON: one odd value becomes None, never an exception,
so it spoils that value and not the sync."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

_EPOCH_ZERO = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(value: Any) -> datetime | None:
    """Read any timestamp shape our providers send.

    Unix seconds as int, float or numeric string; ``{"seconds", "nanos"}``; ISO 8601
    (with ``Z`` or an offset, with or without fractions); ``YYYY-MM-DD HH:MM:SS.ffffffZ``.
    Zero, empty and the epoch itself mean "not set"."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, dict):
        seconds = value.get("seconds")
        nanos = value.get("nanos") or 0
        if not isinstance(seconds, (int, float, str)) or not isinstance(nanos, (int, float)):
            return None
        result = timestamp(seconds)
        if result is None:
            return None
        return datetime.fromtimestamp(result.timestamp() + nanos / 1e9, tz=UTC)
    if isinstance(value, (int, float)):
        return _from_epoch(float(value))
    if isinstance(value, str):
        text = value.strip()
        if ":" not in text:  # a number never has a colon: a time of day is not tried as one
            try:
                return _from_epoch(float(text))
            except ValueError:
                pass
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return None if parsed == _EPOCH_ZERO else parsed.astimezone(UTC)
    return None


def _from_epoch(seconds: float) -> datetime | None:
    if seconds <= 0:
        return None
    if seconds > 1e17:  # nanoseconds
        seconds /= 1e9
    elif seconds > 1e14:  # microseconds
        seconds /= 1e6
    elif seconds > 1e11:  # milliseconds
        seconds /= 1e3
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def text(value: Any, limit: int = 500) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return ""
    return str(value)[:limit]


def integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, (str, float)):
        try:
            return int(float(value))
        except (ValueError, OverflowError):
            return None
    return None


def obj(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def items(value: Any) -> list:
    return value if isinstance(value, list) else []
