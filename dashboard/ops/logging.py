"""Structured logs: ``LOG_FORMAT=json`` writes one JSON object per line (time, level,
logger, message, and any ``extra`` fields) for log collectors; the default stays plain
text for people."""

from __future__ import annotations

import copy

JSON_FORMATTER = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": "%(levelname)s %(name)s %(process)d %(message)s",
    "rename_fields": {"levelname": "level", "name": "logger", "process": "pid"},
    "timestamp": "time",  # ISO 8601, UTC
}


def with_format(logging_config: dict, log_format: str) -> dict:
    """The LOGGING dict with every handler writing ``log_format`` ("plain" or "json")."""
    log_format = (log_format or "plain").strip().lower()
    if log_format not in ("plain", "json"):
        raise ValueError(f"LOG_FORMAT must be 'plain' or 'json', not {log_format!r}")
    if log_format == "plain":
        return logging_config
    config = copy.deepcopy(logging_config)
    config.setdefault("formatters", {})["json"] = JSON_FORMATTER
    for handler in config.get("handlers", {}).values():
        handler["formatter"] = "json"
    return config
