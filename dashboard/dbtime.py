"""Timestamps read from PostgreSQL, parsed with ``datetime.fromisoformat`` (C) instead
of the regular expression of psycopg's pure-Python loader, which Django's time zone
loader extends (and so keeps psycopg's C loader out). A first sync reads back about a
hundred thousand timestamps (the insights rollups recompute its days from the stored
rows), and parsing them took several percent of its CPU.

The value is the same: the same fields, with the time zone Django's loader sets;
whatever ``fromisoformat`` does not read (a BC date, infinity, a DateStyle other than
ISO) goes to Django's loader as before. A text read again in the same result (the jobs
of a build share their times) is not parsed again."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

# Texts remembered per loader (one per result set) before it starts afresh.
SEEN_LIMIT = 4096


def use_fast_timestamps(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created`` receiver: the faster loader on a new PostgreSQL connection."""
    if connection.vendor != "postgresql":
        return
    from psycopg import adapters
    from psycopg.pq import Format

    registry = connection.connection.adapters
    current = registry.get_loader(adapters.types["timestamptz"].oid, Format.TEXT)
    if current is None or getattr(current, "reads_iso_in_c", False):
        return  # a pooled connection that has it already
    registry.register_loader("timestamptz", faster(current))


@functools.cache
def faster(loader: type) -> type:
    """``loader`` (Django's, with its ``timezone``) reading ISO text with ``fromisoformat``."""

    class IsoTzLoader(loader):
        reads_iso_in_c = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # Text already read in this result, and its value (a datetime cannot change):
            # the jobs of a build share their times, so most of a first sync's repeat.
            self._seen: dict[bytes, datetime] = {}

        def load(self, data: Any) -> datetime:
            text = bytes(data)
            if (known := self._seen.get(text)) is not None:
                return known
            try:
                parsed = datetime.fromisoformat(text.decode())
            except ValueError:
                return super().load(data)
            parsed = parsed.replace(tzinfo=self.timezone)
            if len(self._seen) >= SEEN_LIMIT:
                self._seen.clear()
            self._seen[text] = parsed
            return parsed

    return IsoTzLoader
