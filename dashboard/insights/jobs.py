"""The jobs a rollup reads, with what its rows need of each. Within one refresh the
flake events and the day's groups both need the jobs of (mostly) the same builds (after
a first sync, all of them): ``JobsOf`` reads each build's jobs once for both."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db.models import F
from django.db.models.fields.json import KT

from dashboard.lookups import AnyOf
from dashboard.models import Job

from .store import chunked

FIELDS = ("id", "build_id", "name", "state", "created_at", "started_at", "finished_at", "machine")
# Where Semaphore says which machine (or self-hosted agent type) a job ran on.
MACHINE_TYPE = "raw__job__spec__agent__machine__type"
# What reads the jobs of a list of builds: ``read_jobs``, or a ``JobsOf``'s keep or take.
JobsReader = Callable[[list[int]], list[dict]]


def read_jobs(build_ids: Iterable[int]) -> list[dict]:
    """The jobs of these builds (each a dict of ``FIELDS``)."""
    return [
        job
        for part in chunked(build_ids)
        for job in Job.objects.filter(AnyOf(F("build_id"), part)).annotate(machine=KT(MACHINE_TYPE)).values(*FIELDS)
    ]


class JobsOf:
    """``read_jobs`` for one refresh: ``keep`` reads and holds a build's jobs for a later
    ``take``, which hands them over (and forgets them) or reads those not held. A build
    belongs to one day, so one ``take`` per build follows the ``keep``s."""

    def __init__(self) -> None:
        self._held: dict[int, list[dict]] = {}

    def keep(self, build_ids: Iterable[int]) -> list[dict]:
        ids = list(dict.fromkeys(build_ids))
        missing = [i for i in ids if i not in self._held]
        for i in missing:
            self._held[i] = []
        for job in read_jobs(missing):
            self._held[job["build_id"]].append(job)
        return [job for i in ids for job in self._held[i]]

    def take(self, build_ids: Iterable[int]) -> list[dict]:
        found: list[dict] = []
        unread: list[int] = []
        for i in dict.fromkeys(build_ids):
            held = self._held.pop(i, None)
            if held is None:
                unread.append(i)
            else:
                found += held
        return found + read_jobs(unread)
