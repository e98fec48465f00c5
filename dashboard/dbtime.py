"""Timestamps read from PostgreSQL, parsed with ``datetime.fromisoformat`` (C) instead
of the regular expression of psycopg's pure-Python loader, which Django's time zone
loader extends (and so keeps psycopg's C loader out). A first sync reads back about a
hundred thousand timestamps (the insights rollups recompute its days from the stored
rows), and parsing them took several percent of its CPU.

The value is the same: the same fields, with the time zone Django's loader sets;
whatever ``fromisoformat`` does not read (a BC date, infinity, a DateStyle other than
ISO) goes to Django's loader as before."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any


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

        def load(self, data: Any) -> datetime:
            try:
                parsed = datetime.fromisoformat(bytes(data).decode())
            except ValueError:
                return super().load(data)
            return parsed.replace(tzinfo=self.timezone)

    return IsoTzLoader
