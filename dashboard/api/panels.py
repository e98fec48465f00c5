"""What a provider panel shows, as JSON: the panel's declared context, made plain.

Each provider panel (``providers.base.panels``) builds a context for its template; the
API serves the same context so scripts see what the page shows (promotions, active
jobs, metrics, log windows, task output, artifacts...). Values become JSON: times as
ISO 8601, our rows as their id and link, dataclasses as objects; forms and
pre-rendered HTML are left out (the data they show is there in plain form)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.db import models
from django.utils.safestring import SafeData

SKIPPED = object()
MAX_DEPTH = 8


def plain(value: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        return SKIPPED
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (SafeData, forms.BaseForm, forms.BoundField)):
        return SKIPPED
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, models.Model):
        row = {"external_id": getattr(value, "external_id", None), "name": str(value)}
        if hasattr(value, "get_absolute_url"):
            row["url"] = value.get_absolute_url()
        return row
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if str(key).endswith("_html"):
                continue
            converted = plain(item, depth + 1)
            if converted is not SKIPPED:
                out[str(key)] = converted
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [plain(item, depth + 1) for item in value]
        return [item for item in items if item is not SKIPPED]
    return str(value)
