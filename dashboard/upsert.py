"""Idempotent bulk upserts keyed on (connection, external id), skipping rows whose
content is unchanged so a quiet sync costs no writes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import models

CHUNK = 500


@dataclass
class UpsertResult:
    ids: dict[str, int] = field(default_factory=dict)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    previous: dict[str, dict] = field(default_factory=dict)
    # External ids of the rows this write created or changed.
    changed: list[str] = field(default_factory=list)


def fingerprint(fields: dict) -> str:
    payload = json.dumps(fields, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.md5(payload.encode(), usedforsecurity=False).hexdigest()


def chunked(seq: list, size: int = CHUNK) -> Iterable[list]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def existing_ids(model: type[models.Model], connection_id: int, external_ids: Iterable[str]) -> dict[str, int]:
    keys = list(dict.fromkeys(external_ids))
    found: dict[str, int] = {}
    for part in chunked(keys):
        found.update(
            model.objects.filter(connection_id=connection_id, external_id__in=part).values_list("external_id", "id")
        )
    return found


def upsert(
    model: type[models.Model], connection_id: int, rows: dict[str, dict], remember: tuple[str, ...] = ()
) -> UpsertResult:
    """Write ``rows`` (external id -> model fields) and return every row's primary key.

    ``remember`` names fields whose stored values (before this write) are returned in
    ``previous``, so the caller can see transitions such as running -> passed."""
    result = UpsertResult()
    if not rows:
        return result
    stored: dict[str, tuple] = {}
    for part in chunked(list(rows)):
        for ext_id, pk, fp, *kept in model.objects.filter(
            connection_id=connection_id, external_id__in=part
        ).values_list("external_id", "id", "fingerprint", *remember):
            stored[ext_id] = (pk, fp)
            result.previous[ext_id] = dict(zip(remember, kept, strict=True))
    changed = []
    update_fields: set[str] = set()
    for ext_id, fields in rows.items():
        fp = fingerprint(fields)
        if ext_id in stored and stored[ext_id][1] == fp:
            result.unchanged += 1
            result.ids[ext_id] = stored[ext_id][0]
            continue
        if ext_id in stored:
            result.updated += 1
        else:
            result.created += 1
        update_fields.update(fields)
        result.changed.append(ext_id)
        changed.append(model(connection_id=connection_id, external_id=ext_id, fingerprint=fp, **fields))
    if changed:
        for part in chunked(changed):
            model.objects.bulk_create(
                part,
                update_conflicts=True,
                unique_fields=["connection", "external_id"],
                update_fields=sorted(update_fields | {"fingerprint", "synced_at"}),
            )
        result.ids.update(existing_ids(model, connection_id, [o.external_id for o in changed]))
    return result
