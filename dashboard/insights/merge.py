"""Histograms summed per group. On PostgreSQL the database adds them up (``jsonb_each``
over the rows, grouped by key and bucket), so a page moves a few thousand integers
instead of decoding thousands of JSON objects; elsewhere (SQLite, the embedded
default with its smaller histories) Python does. Both give the same integers."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import QuerySet

from . import buckets


def histograms(queryset: QuerySet, group: Sequence[str], field: str) -> dict[tuple, dict[int, list[int]]]:
    found: dict[tuple, dict[int, list[int]]] = {}
    if connection.vendor == "postgresql":
        try:
            sql, params = queryset.values(*group, field).query.sql_with_params()
        except EmptyResultSet:  # a filter such as day__in=[] that no row can match
            return found
        quote = connection.ops.quote_name
        columns = ", ".join(f"q.{quote(g)}" for g in group)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {columns}{', ' if group else ''}e.key::int, SUM((e.value->>0)::bigint)::bigint, "
                f"SUM((e.value->>1)::bigint)::bigint FROM ({sql}) q CROSS JOIN LATERAL jsonb_each(q.{quote(field)}) e "
                f"GROUP BY {columns}{', ' if group else ''}e.key",
                params,
            )
            for *key, bucket, n, ms in cursor.fetchall():
                found.setdefault(tuple(key), {})[bucket] = [n, ms]
        return found
    for *key, hist in queryset.values_list(*group, field):
        buckets.add(found.setdefault(tuple(key), {}), hist)
    return found
