"""Write a recomputed set of rollup rows over what is stored, touching only rows that
differ: a recompute that finds the same figures writes nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from django.db import connection as db
from django.db import models

from dashboard.upsert import json_encoder

CHUNK = 500
T = TypeVar("T")


def chunked(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    part: list[T] = []
    for item in items:
        part.append(item)
        if len(part) >= size:
            yield part
            part = []
    if part:
        yield part


def replace_rows(queryset: models.QuerySet, key_fields: Sequence[str], rows: dict[tuple, dict]) -> list[models.Model]:
    """Make the rows of ``queryset`` equal ``rows`` (key tuple over ``key_fields`` ->
    the other fields). Returns the rows written or deleted (deleted ones as they were)."""
    model = queryset.model
    stored = {tuple(getattr(obj, f) for f in key_fields): obj for obj in queryset}
    creates, updates, touched = [], [], []
    for key, values in rows.items():
        obj = stored.pop(key, None)
        if obj is None:
            creates.append(model(**dict(zip(key_fields, key, strict=True)), **values))
            continue
        different = [f for f, v in values.items() if getattr(obj, f) != v]
        if different:
            for f in different:
                setattr(obj, f, values[f])
            updates.append(obj)
    gone = list(stored.values())
    if gone:
        for part in chunked([obj.pk for obj in gone]):
            model.objects.filter(pk__in=part).delete()
    if updates:
        # Replaced whole under the same primary keys: two plain statements, where
        # bulk_update builds a CASE expression per field and row (most of a first
        # sync's CPU went there). Nothing refers to rollup rows by key.
        for part in chunked([obj.pk for obj in updates]):
            model.objects.filter(pk__in=part).delete()
        insert(model, updates, with_pk=True)
    if creates:
        insert(model, creates, with_pk=False)
    touched.extend(creates)
    touched.extend(updates)
    touched.extend(gone)
    return touched


def insert(model: type[models.Model], objs: list[models.Model], *, with_pk: bool) -> None:
    """Insert new rows. On PostgreSQL they are streamed with ``COPY`` (a first sync
    creates thousands of rollup rows, and an ``INSERT`` of thousands of placeholders is
    built, and bound client-side, value by value); elsewhere ``bulk_create``. Nothing
    reads back the primary keys of created rows."""
    if not objs:
        return
    if db.vendor != "postgresql":
        model.objects.bulk_create(objs, batch_size=CHUNK)
        return
    fields = [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]
    quote = db.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    values = [_copy_value(f) for f in fields]
    # Errors come out as Django's (an IntegrityError when another writer got there first).
    statement = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
    with db.wrap_database_errors, db.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for obj in objs:
            copy.write_row([value(obj) for value in values])


# Columns whose values go into the copy stream as they are held when they have the
# column's own Python type (Django's preparation of them on PostgreSQL changes nothing
# then, and cost most of writing a rollup row); any other value is prepared by Django.
_HELD_TYPES = ((models.IntegerField, int), (models.FloatField, float), (models.CharField, str), (models.TextField, str))


def _copy_value(field: models.Field) -> Callable[[models.Model], Any]:
    """How ``field``'s value of a row goes into the copy stream, decided once per column."""
    if isinstance(field, models.JSONField):
        encode, name = json_encoder(field), field.attname
        return lambda obj: encode(getattr(obj, name))

    def prepared(obj: models.Model) -> Any:
        return field.get_db_prep_save(field.pre_save(obj, True), db)

    held = next((kind for column, kind in _HELD_TYPES if isinstance(field, column)), None)
    if held is None or field.is_relation:
        return prepared
    name = field.attname

    def value(obj: models.Model) -> Any:
        v = getattr(obj, name)
        return v if v is None or type(v) is held else prepared(obj)

    return value
