"""Job logs: fetched from the provider piece by piece, stored as compressed chunks,
read back from any offset without loading the whole log."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from dashboard.lookups import AnyOf
from dashboard.models import Job, Log, LogChunk
from dashboard.models.builds import inflate
from providers.base.adapter import Adapter
from providers.base.records import LogPiece
from providers.registry import adapter_class

# A stored chunk holds up to this many bytes: a search or a download inflates and
# fetches the log a chunk at a time, and fewer, larger chunks cost fewer rows and calls.
CHUNK_BYTES = 64 * 1024


def log_for(job: Job) -> Log:
    log, _ = Log.objects.get_or_create(job=job)
    return log


def logs_for(jobs: list[Job]) -> list[Log]:
    """``[log_for(job) for job in jobs]`` in a few statements rather than two per job:
    the logs held are read together and the missing ones made together, in the jobs'
    order (one made meanwhile by a page view is kept and read)."""
    held = {log.job_id: log for log in Log.objects.filter(AnyOf(F("job_id"), [job.pk for job in jobs]))}
    missing = [job.pk for job in jobs if job.pk not in held]
    if missing:
        Log.objects.bulk_create([Log(job_id=pk) for pk in missing], ignore_conflicts=True)
        held.update((log.job_id, log) for log in Log.objects.filter(AnyOf(F("job_id"), missing)))
    return [held[job.pk] for job in jobs]


def append(log: Log, text: str) -> None:
    """Append text to a log; the caller holds a transaction with the log row locked.
    The last chunk is filled up to CHUNK_BYTES first. Chunks hold whole characters, so
    any chunk decodes on its own."""
    LogChunk.objects.bulk_create(new_chunks(log, text))


def new_chunks(log: Log, text: str) -> list[LogChunk]:
    """The chunks that append ``text`` to ``log`` (not yet saved), after filling its
    last stored chunk (saved here); ``log.size`` grows by the text's bytes."""
    if not text:
        return []
    # A lone surrogate (JSON allows "\ud800") has no UTF-8 form: it is stored as "?",
    # so one odd character spoils that character, not the log or the sync storing it.
    data = memoryview(text.encode("utf-8", "replace"))
    pos = 0
    last = log.chunks.order_by("-start").first() if log.size else None  # an empty log has none
    if last is not None and last.size < CHUNK_BYTES:
        pos = _whole_characters(data, CHUNK_BYTES - last.size)
        if pos:
            joined = inflate(last.data) + data[:pos]
            last.data = zlib.compress(joined, 6)
            log.size += len(joined) - last.size
            last.size = len(joined)
            last.save(update_fields=["data", "size"])
    chunks = []
    while pos < len(data):
        end = pos + _whole_characters(data[pos:], CHUNK_BYTES)
        piece = data[pos:end]
        chunks.append(LogChunk(log=log, start=log.size, size=len(piece), data=zlib.compress(piece, 6)))
        log.size += len(piece)
        pos = end
    return chunks


def _whole_characters(data: memoryview, limit: int) -> int:
    """How many of the first ``limit`` bytes of UTF-8 ``data`` to take without cutting a
    character: a cut never falls before a continuation byte (0b10xxxxxx)."""
    if limit >= len(data):
        return len(data)
    cut = limit
    while cut > 0 and data[cut] & 0xC0 == 0x80:
        cut -= 1
    return cut


def refresh_log(job: Job, adapter: Adapter | None = None, *, interactive: bool = False) -> Log:
    """Fetch what the provider has beyond our copy and store it. The provider is asked
    outside any transaction; if another request stored the same piece meanwhile, ours is
    dropped, so concurrent viewers never double a log. ``interactive``: a person waits,
    so the provider is asked briefly."""
    log = log_for(job)
    if log.complete:
        return log
    own_adapter = adapter is None
    adapter = adapter or adapter_class(job.connection.kind)(job.connection, interactive=interactive)
    try:
        cursor = dict(log.cursor or {})
        piece = adapter.fetch_log(job, cursor)
    finally:
        if own_adapter:
            adapter.close()
    return store_piece(job, log, cursor, piece)


def store_piece(job: Job, log: Log, cursor: dict, piece: LogPiece) -> Log:
    """Store ``piece``, read from ``cursor``, unless another request stored a piece of
    this log meanwhile (then ours is dropped)."""
    return store_pieces([(job, log, cursor, piece)])[0]


def store_pieces(pieces: list[tuple[Job, Log, dict, LogPiece]]) -> list[Log]:
    """``store_piece`` of each, in one transaction and a few statements whatever their
    number (the logs a sync saw finishing are stored together): the logs are locked
    together, their new chunks inserted together and the logs updated together.
    Returns the logs as stored, in the pieces' order."""
    if not pieces:
        return []
    with transaction.atomic():
        ids = [log.pk for _, log, _, _ in pieces]
        locked = {log.pk: log for log in Log.objects.select_for_update().filter(AnyOf(F("pk"), ids)).order_by("pk")}
        chunks: list[LogChunk] = []
        stored: dict[int, Log] = {}
        exit_codes: dict[int, list[int]] = {}  # exit code -> jobs that learn it
        now = timezone.now()
        for job, held, cursor, piece in pieces:
            log = locked.get(held.pk)
            if log is None or log.cursor != cursor or log.complete:
                continue  # its job was deleted, or another request stored a piece meanwhile
            chunks += new_chunks(log, piece.text)
            log.cursor, log.complete, log.fetched_at, log.error = piece.cursor, piece.complete, now, ""
            stored[log.pk] = log
            if piece.exit_code is not None and job.exit_code is None:
                exit_codes.setdefault(piece.exit_code, []).append(job.pk)
        LogChunk.objects.bulk_create(chunks)
        Log.objects.bulk_update(list(stored.values()), ["size", "cursor", "complete", "fetched_at", "error"])
        for code, job_ids in exit_codes.items():
            Job.objects.filter(AnyOf(F("pk"), job_ids)).update(exit_code=code)
    return [locked.get(log.pk, log) for _, log, _, _ in pieces]


def read(log: Log, offset: int = 0) -> Iterator[str]:
    return log.chunks_from(offset)


def tail_offset(log: Log, max_bytes: int) -> int:
    """Where to start showing a log so that at most ``max_bytes`` are shown, at a chunk
    boundary at or after that point."""
    if log.size <= max_bytes:
        return 0
    want = log.size - max_bytes
    start = log.chunks.filter(start__gte=want).order_by("start").values_list("start", flat=True).first()
    return start if start is not None else want


def read_bytes(log: Log, offset: int = 0, limit: int | None = None) -> Iterator[bytes]:
    """The stored bytes ``[offset, offset + limit)`` (to the end without ``limit``), one
    chunk at a time. Windows are exact bytes: a multi-byte character split by a window
    boundary is whole again once the windows are joined."""
    end = None if limit is None else offset + limit
    for start, packed in log.packed_chunks(offset, end):
        data = inflate(packed)
        low = max(offset - start, 0)
        high = len(data) if end is None else max(end - start, 0)
        if piece := data[low:high]:
            yield piece
