"""When is something gone at the provider? Only on evidence that holds.

One answer is never enough: a listing that lost its key, an empty page, a burst of 404s
from a provider having a bad minute all look like deletions. A row is marked gone only
when it was missing from complete listings (or answered 404 while the provider answered
other requests normally) in at least ``GONE_CONFIRM_SYNCS`` syncs, the first at least
``GONE_CONFIRM_SECONDS`` ago. A listing that drops most of what we hold at once, or comes
back empty where we held rows, looks wrong: it is said in the sync's problems and must
hold for ``GONE_CONFIRM_MASS_SECONDS`` instead. A row seen again is restored at once.

Gathering evidence clears the row's fingerprint, so the next record written for it is
never skipped as unchanged and restores it fully."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from dashboard.lookups import AnyOf
from dashboard.models import Build, Job
from dashboard.models.base import ProviderRow
from dashboard.models.registry import model_named
from dashboard.states import FINISHED, State
from dashboard.upsert import chunked


@dataclass
class Evidence:
    """What one sync has counted already, so a row missing from two listings of the same
    sync counts once."""

    counted: set[tuple[str, str]] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def _scoped(model: type[ProviderRow], connection_id: int, scope: dict[str, str]):
    filters = {f"{parent}__external_id": external_id for parent, external_id in scope.items()}
    return model.objects.filter(connection_id=connection_id, **filters)


def restore(model_name: str, connection_id: int, external_ids: Iterable[str]) -> int:
    """Rows seen again lose their marks."""
    model = model_named(model_name)
    restored = 0
    for part in chunked(list(external_ids)):
        restored += (
            model.objects.filter(AnyOf(F("external_id"), part), connection_id=connection_id)
            .filter(Q(missing_count__gt=0) | Q(gone=True))
            .update(missing_count=0, missing_since=None, gone=False, fingerprint="")
        )
    return restored


def listing_seen(model_name: str, connection_id: int, ids: set[str], scope: dict[str, str], evidence: Evidence) -> None:
    """A complete listing: what it shows is there; what we hold in its scope and it
    does not show is missing."""
    model = model_named(model_name)
    # One read of what is held in scope, marks included: a listing shows again what we
    # hold, so the rows to restore are usually none and no restoring statement is sent.
    rows = list(_scoped(model, connection_id, scope).values_list("external_id", "gone", "missing_count"))
    in_scope = {external_id for external_id, _, _ in rows}
    marked = {external_id for external_id, gone, count in rows if external_id in ids and (gone or count)}
    held = {external_id for external_id, gone, _ in rows if external_id in ids or not gone}
    # A listed row held outside the scope (or not yet held) is restored by id as well.
    restore(model_name, connection_id, marked | (ids - in_scope))
    missing = held - ids
    if not missing:
        return
    mass = not ids or (len(held) >= 4 and len(missing) * 2 > len(held))
    if mass:
        where = ", ".join(f"{k} {v}" for k, v in scope.items()) or "the connection"
        evidence.problems.append(
            f"The provider's list of {model._meta.verbose_name_plural} for {where} left out {len(missing)} "
            f"of the {len(held)} we hold at once; they are kept unless that lasts."
        )
    missing_seen(model_name, connection_id, missing, evidence, mass=mass)


def missing_seen(
    model_name: str, connection_id: int, external_ids: Iterable[str], evidence: Evidence, *, mass: bool = False
) -> list[str]:
    """Count one piece of evidence against each row; mark gone those for which it now
    holds. Returns the external ids marked gone."""
    now = timezone.now()
    model = model_named(model_name)
    fresh = [i for i in dict.fromkeys(external_ids) if (model_name, i) not in evidence.counted]
    evidence.counted.update((model_name, i) for i in fresh)
    confirmed: list[str] = []
    window = settings.GONE_CONFIRM_MASS_SECONDS if mass else settings.GONE_CONFIRM_SECONDS
    for part in chunked(fresh):
        rows = model.objects.filter(connection_id=connection_id, external_id__in=part, gone=False)
        rows.filter(missing_count=0).update(missing_since=now, missing_count=1, fingerprint="")
        rows.filter(missing_count__gt=0, missing_since__lt=now).update(missing_count=F("missing_count") + 1)
        due = rows.filter(
            missing_count__gte=settings.GONE_CONFIRM_SYNCS, missing_since__lte=now - timedelta(seconds=window)
        )
        confirmed += list(due.values_list("external_id", flat=True))
    if confirmed:
        mark_gone(model_name, connection_id, confirmed, now)
    return confirmed


def mark_gone(model_name: str, connection_id: int, external_ids: list[str], now: datetime | None = None) -> None:
    """The provider no longer has these rows: history is kept and marked, the rest is
    deleted. An unfinished build that is gone will never finish: it is no longer shown
    as running but as unknown, and looked at again a few times in case we were wrong."""
    now = now or timezone.now()
    model = model_named(model_name)
    for part in chunked(external_ids):
        rows = model.objects.filter(connection_id=connection_id, external_id__in=part)
        if not model.keep_when_gone:
            rows.delete()
            continue
        rows.update(gone=True, fingerprint="")
        if model is Build:
            Job.objects.filter(build__in=rows.exclude(state__in=FINISHED)).exclude(state__in=FINISHED).update(
                state=State.UNKNOWN, fingerprint=""
            )
            rows.exclude(state__in=FINISHED).update(state=State.UNKNOWN)
            rows.update(recheck_at=now + timedelta(seconds=settings.GONE_RECHECK_SECONDS), recheck_attempts=0)
            # Its builds' history stays; a gone pipeline's builds are not gone themselves.
        if model_name == "pipeline":
            Build.objects.filter(connection_id=connection_id, pipeline__external_id__in=part, gone=False).exclude(
                state__in=FINISHED
            ).update(state=State.UNKNOWN, gone=True, fingerprint="")
