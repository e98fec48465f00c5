"""Keyset pagination on (created_at, id) descending: no OFFSET and no COUNT, so a page
costs the same at row 10 and at row 10 million."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet


@dataclass
class Page:
    rows: list
    next_cursor: str | None


def encode(created_at: datetime, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{pk}".encode()).decode().rstrip("=")


def decode(cursor: str | None) -> tuple[datetime, int] | None:
    """A cursor from a URL; anything malformed means "first page" rather than an error."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, pk = raw.split("|", 1)
        return datetime.fromisoformat(stamp), int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def keyset_page(queryset: QuerySet, cursor: str | None, size: int) -> Page:
    position = decode(cursor)
    queryset = queryset.order_by("-created_at", "-id")
    if position:
        created_at, pk = position
        queryset = queryset.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=pk))
    rows = list(queryset[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, encode(rows[-1].created_at, rows[-1].pk) if more and rows else None)
