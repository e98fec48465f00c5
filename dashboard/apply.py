"""Writing one batch: records -> rows (fields and lengths from the models' own
``_meta``), foreign keys resolved by external id, the deletion evidence weighed, and the
cursor stored, all in one transaction."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from dashboard import evidence
from dashboard.lookups import AnyOf
from dashboard.models import Build, Connection, Job
from dashboard.models.registry import ROW_MODELS, model_named
from dashboard.signals import batch_applied, send_safely
from dashboard.states import FINISHED, State
from dashboard.upsert import existing_ids, upsert
from providers.base.records import Batch, BuildRecord, PipelineRecord, RowRecord

# Record attributes that name a parent by its external id: attribute -> (fk, model).
REFS = {"project_id": ("project", "project"), "pipeline_id": ("pipeline", "pipeline")}
# Always written with a record: a row the provider shows is not gone.
PRESENT = {"gone": False, "missing_since": None, "missing_count": 0}


@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    finished_job_ids: list[int] = field(default_factory=list)
    changed_build_ids: set[int] = field(default_factory=set)
    finished_build_ids: list[int] = field(default_factory=list)
    # External ids of the builds written from records in this batch.
    builds_read: set[str] = field(default_factory=set)

    def add(self, other: Any) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged


@functools.cache
def _columns_of(model: type[models.Model]) -> dict[str, tuple[str, int | None]]:
    """Field name or attname -> (attname, max length): looked up once per model, not per
    value of every row."""
    found: dict[str, tuple[str, int | None]] = {}
    for column in model._meta.concrete_fields:
        for name in (column.name, column.attname):
            found[name] = (column.attname, getattr(column, "max_length", None))
    return found


def row_values(model: type[models.Model], values: dict[str, Any]) -> dict[str, Any]:
    """``values`` as the model stores them: strings cut to the column's length. A name
    the model does not have is a programming error and raises."""
    out = {}
    for (attname, max_length), value in zip(_row_plan(model, tuple(values)), values.values(), strict=True):
        if max_length and isinstance(value, str) and len(value) > max_length:
            value = value[:max_length]
        out[attname] = value
    return out


@functools.lru_cache(maxsize=512)
def _row_plan(model: type[models.Model], names: tuple[str, ...]) -> tuple[tuple[str, int | None], ...]:
    """(attname, max length) for each of ``names``: rows of one record type share their
    names, so they are looked up once, not for every value of every row."""
    columns = _columns_of(model)
    plan = []
    for name in names:
        found = columns.get(name)
        if found is None:
            model._meta.get_field(name)  # raises FieldDoesNotExist, as before
            raise ValueError(f"{model.__name__}.{name} is not a column")
        plan.append(found)
    return tuple(plan)


@functools.cache
def _record_fields(cls: type) -> tuple[tuple[str, tuple[str, str] | None], ...]:
    """A record class's fields (but its external id), each with the parent it names."""
    return tuple((f.name, REFS.get(f.name)) for f in dataclasses.fields(cls) if f.name != "external_id")


def as_row(record: Any, skip: Iterable[str] = ()) -> tuple[dict[str, Any], dict[str, tuple[str, str | None]]]:
    """A typed record's fields and its references to parents."""
    if isinstance(record, RowRecord):
        return dict(record.fields), dict(record.refs)
    values, refs = {}, {}
    for name, ref in _record_fields(type(record)):
        if name in skip:
            continue
        value = getattr(record, name)
        if ref is not None:
            fk, model = ref
            refs[fk] = (model, value)
        else:
            values[name] = value
    return values, refs


class Writer:
    """Writes records model by model, remembering the primary keys it has seen so that
    children find their parents without asking twice."""

    def __init__(self, connection_id: int, total: BatchResult):
        self.cid = connection_id
        self.total = total
        self.known: dict[str, dict[str, int]] = {}

    def resolve(self, model_name: str, external_ids: set[str]) -> dict[str, int]:
        known = self.known.setdefault(model_name, {})
        missing = {i for i in external_ids if i and i not in known}
        if missing:
            known.update(existing_ids(model_named(model_name), self.cid, missing))
        return known

    def write(self, model_name: str, records: list[Any], *, skip: Iterable[str] = (), remember=()):
        model = model_named(model_name)
        rows: dict[str, tuple[dict, dict]] = {r.external_id: as_row(r, skip) for r in records}
        wanted: dict[str, set[str]] = {}
        for _, refs in rows.values():
            for ref_model, ref_id in refs.values():
                if ref_id:
                    wanted.setdefault(ref_model, set()).add(ref_id)
        resolved = {m: self.resolve(m, ids) for m, ids in wanted.items()}
        values = {}
        for ext, (fields, refs) in rows.items():
            fields = {**fields, **PRESENT}
            for fk, (ref_model, ref_id) in refs.items():
                fields[f"{fk}_id"] = resolved.get(ref_model, {}).get(ref_id) if ref_id else None
            values[ext] = row_values(model, fields)
        result = upsert(model, self.cid, values, remember=remember)
        self.known.setdefault(model_name, {}).update(result.ids)
        self.total.add(result)
        return result, values


def implied_pipelines(writer: Writer, batch: Batch) -> list[PipelineRecord]:
    """Builds may name a definition the adapter did not list: it is made from the build."""
    listed = {p.external_id for p in batch.pipelines}
    named = {b.pipeline_id: b for b in batch.builds if b.pipeline_id and b.pipeline_id not in listed}
    held = writer.resolve("pipeline", set(named))
    made = [(ext, b) for ext, b in named.items() if ext not in held]
    return [PipelineRecord(ext, ext.split(":", 1)[-1], project_id=b.project_id) for ext, b in made]


def apply_batch(connection: Connection, batch: Batch, gathered: evidence.Evidence | None = None) -> BatchResult:
    """Write one batch and its cursor in a single transaction."""
    cid = connection.pk
    total = BatchResult()
    gathered = gathered if gathered is not None else evidence.Evidence()
    with transaction.atomic():
        writer = Writer(cid, total)
        writer.write("project", batch.projects)
        writer.write("pipeline", [*batch.pipelines, *implied_pipelines(writer, batch)])
        writer.write("schedule", batch.schedules)
        write_builds(writer, batch.builds, total)
        rows_by_model: dict[str, list[RowRecord]] = {}
        for row in batch.rows:
            rows_by_model.setdefault(row.model, []).append(row)
        for name in ROW_MODELS:
            if name in rows_by_model:
                writer.write(name, rows_by_model[name])
        weigh_evidence(cid, batch, gathered)
        # One statement for the cursor and the revision live pages watch (its bump
        # commits with the rows it announces).
        moved: dict[str, Any] = {"revision": F("revision") + 1} if total.created or total.updated else {}
        if batch.cursor is not None and batch.cursor != connection.sync_cursor:
            moved["sync_cursor"] = batch.cursor
        if moved:
            Connection.objects.filter(pk=cid).update(**moved)
            connection.sync_cursor = moved.get("sync_cursor", connection.sync_cursor)
        if total.changed_build_ids:
            changed, finished = sorted(total.changed_build_ids), list(total.finished_build_ids)
            transaction.on_commit(
                lambda: send_safely(
                    batch_applied, connection=connection, changed_build_ids=changed, finished_build_ids=finished
                )
            )
    return total


def write_builds(writer: Writer, records: list[BuildRecord], total: BatchResult) -> None:
    if not records:
        return
    builds, _ = writer.write("build", records, skip=("jobs",), remember=("state",))
    states = {b.external_id: b.state for b in records}
    total.builds_read = set(states)
    total.changed_build_ids |= {builds.ids[ext] for ext in builds.changed}
    total.finished_build_ids = [
        builds.ids[ext]
        for ext in builds.changed
        if states[ext] in FINISHED and builds.previous.get(ext, {}).get("state") not in FINISHED
    ]
    jobs_of = [(b, builds.ids[b.external_id]) for b in records if b.jobs is not None]
    job_records = [j for b, _ in jobs_of for j in b.jobs]
    parent = {j.external_id: build_pk for b, build_pk in jobs_of for j in b.jobs}
    if job_records:
        model = Job
        values = {
            j.external_id: row_values(model, {**as_row(j)[0], **PRESENT, "build_id": parent[j.external_id]})
            for j in job_records
        }
        jobs = upsert(model, writer.cid, values, remember=("state",))
        total.add(jobs)
        total.changed_build_ids |= {values[ext]["build_id"] for ext in jobs.changed}
        total.finished_job_ids = [
            jobs.ids[ext]
            for ext, row in values.items()
            if row["state"] in FINISHED and jobs.previous.get(ext, {}).get("state") not in FINISHED
        ]
    schedule_rechecks(writer.cid, records, builds.ids, stored=builds.previous.keys())


def schedule_rechecks(
    connection_id: int, records: list[BuildRecord], pks: dict[str, int], stored: Collection[str]
) -> None:
    """A build read without its jobs (when we hold none) or with a job in a state we do
    not know is read again later, with back-off; a complete one is left alone (one
    ``stored`` before this write may have had a recheck due: it is called off)."""
    with_jobs = set(
        Job.objects.filter(build_id__in=[pks[r.external_id] for r in records if r.jobs is None])
        .values_list("build_id", flat=True)
        .distinct()
    )
    incomplete = [
        pks[r.external_id]
        for r in records
        if (r.jobs is None and pks[r.external_id] not in with_jobs)
        or (r.state in FINISHED and any(j.state == State.UNKNOWN for j in r.jobs or ()))
    ]
    held_back = set(incomplete)
    complete = [pks[r.external_id] for r in records if pks[r.external_id] not in held_back and r.external_id in stored]
    if complete:  # a row made just now has no recheck to call off
        Build.objects.filter(AnyOf(F("pk"), complete), recheck_at__isnull=False).update(
            recheck_at=None, recheck_attempts=0
        )
    now = timezone.now()
    for build in Build.objects.filter(pk__in=incomplete).only("pk", "recheck_attempts"):
        attempts = build.recheck_attempts + 1
        Build.objects.filter(pk=build.pk).update(recheck_at=now + backoff(attempts), recheck_attempts=attempts)


def backoff(attempts: int) -> timedelta:
    """How long until the next read of something that keeps failing: at the next sync
    for the first few attempts (most faults pass within minutes), then doubling."""
    eager = settings.RECHECK_EAGER_ATTEMPTS
    if attempts <= eager:
        return timedelta(0)
    base = settings.RECHECK_BACKOFF_SECONDS
    return timedelta(seconds=min(base * 2 ** (attempts - eager - 1), settings.RECHECK_BACKOFF_MAX_SECONDS))


def weigh_evidence(connection_id: int, batch: Batch, gathered: evidence.Evidence) -> None:
    for listing in batch.listings:
        evidence.listing_seen(listing.model, connection_id, set(listing.ids), dict(listing.scope), gathered)
    by_model: dict[str, list[str]] = {}
    for model_name, external_id in batch.not_found:
        by_model.setdefault(model_name, []).append(external_id)
    for model_name, ids in by_model.items():
        evidence.missing_seen(model_name, connection_id, ids, gathered)
    removed: dict[str, list[str]] = {}
    for model_name, external_id in batch.removed:
        removed.setdefault(model_name, []).append(external_id)
    for model_name, ids in removed.items():
        evidence.mark_gone(model_name, connection_id, ids)
