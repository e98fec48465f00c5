"""Big logs: the raw download and the API stream the stored chunks without ever holding
the log whole, and the search finds the same lines as reading line by line would,
across chunk boundaries, in any case, past ASCII."""

from __future__ import annotations

import hashlib
import json
import random
import tracemalloc

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from dashboard import logstore
from dashboard.models import Build, Connection, Job, Log
from dashboard.models.builds import CHUNKS_PER_FETCH, inflate
from dashboard.views.jobs import search_lines

STREAM_PART_MAX = 64 * 1024  # one stored chunk at most


def store(job: Job, text: str) -> Log:
    with transaction.atomic():
        log = Log.objects.select_for_update().get(pk=logstore.log_for(job).pk)
        logstore.append(log, text)
        log.complete = True
        log.save()
    return log


@pytest.fixture
def job(db):
    connection = Connection.objects.create(kind="harmont", name="h", slug="h", base_url="http://127.0.0.1:9", token="t")
    build = Build.objects.create(connection=connection, external_id="b1", state="passed", created_at=timezone.now())
    return Job.objects.create(connection=connection, build=build, external_id="j1", name="test", state="passed")


def noisy_log(size: int, seed: int = 1) -> str:
    """Lines that compress about as badly as real CI output (ids, hashes, timings)."""
    rnd = random.Random(seed)
    lines, total = [], 0
    while total < size:
        line = f"{total:09d} step {rnd.getrandbits(128):032x} took {rnd.random():.4f}s"
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines) + "\n"


def reference_search(text: str, needle: str) -> list[tuple[int, str]]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [(n, line) for n, line in enumerate(lines, 1) if needle.lower() in line.lower()]


def consume(parts) -> tuple[str, int, int]:
    """Digest, number of parts and the largest part, and the most Python memory held."""
    digest, count, largest = hashlib.sha256(), 0, 0
    tracemalloc.start()
    try:
        for part in parts:
            digest.update(part)
            count += 1
            largest = max(largest, len(part))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return digest.hexdigest(), count, max(largest, peak)


def test_the_raw_download_streams_a_big_log_a_chunk_at_a_time(viewer_client, job):
    text = noisy_log(12 * 1024 * 1024)
    store(job, text)
    response = viewer_client.get(reverse("job-log-raw", args=["harmont", "h", "j1"]))
    assert response.status_code == 200 and response.streaming
    digest, parts, most_held = consume(response.streaming_content)
    assert digest == hashlib.sha256(text.encode()).hexdigest()
    assert parts >= len(text) // STREAM_PART_MAX  # many small parts, not one body
    # Python memory held while streaming 12 MB: a few fetched chunks, never the log.
    assert most_held < 3 * 1024 * 1024, most_held


def test_the_api_streams_the_rest_of_a_big_log(viewer_client, job):
    text = noisy_log(6 * 1024 * 1024, seed=2)
    store(job, text)
    response = viewer_client.get(reverse("api-job-log", args=["harmont", "h", "j1"]), {"offset": 100})
    assert response.status_code == 200 and response.streaming
    digest, _, most_held = consume(response.streaming_content)
    assert digest == hashlib.sha256(text.encode()[100:]).hexdigest()
    assert most_held < 3 * 1024 * 1024, most_held


def test_search_finds_what_reading_line_by_line_finds(job):
    rnd = random.Random(5)
    lines = []
    for n in range(12000):
        kind = rnd.random()
        if kind < 0.01:
            lines.append("x" * rnd.randint(20000, 70000) + " NeedLE in a very long line")  # spans chunks
        elif kind < 0.05:
            lines.append(f"step {n}: needle found ✓ — Größe ÜBER alles")
        else:
            lines.append(f"step {n}: nothing to see {rnd.getrandbits(64):x}")
    text = "\n".join(lines) + "\nlast line with a NEEDLE and no newline"
    log = store(job, text)
    assert log.chunks.count() > 10
    for needle in ("needle", "NEEDLE in", "step 11", "größe über", "ü", "not there at all", "✓ —"):
        found, capped = search_lines(log, needle, limit=10**6)
        assert not capped
        assert found == reference_search(text, needle), needle
    first, capped = search_lines(log, "needle", limit=7)
    assert capped and first == reference_search(text, "needle")[:7]


def test_the_search_box_on_a_job_page_and_the_viewer_agree(viewer_client, job):
    store(job, "alpha\nBeta one\nbeta two\ngamma\n")
    page = viewer_client.get(reverse("job", args=["harmont", "h", "j1"]), {"q": "beta"}).content.decode()
    assert "Beta one" in page and "beta two" in page
    answer = viewer_client.get(reverse("job-log-search", args=["harmont", "h", "j1"]), {"q": "BETA"}).json()
    assert answer["matches"] == [2, 3] and answer["capped"] is False


def test_appended_pieces_are_kept_in_chunks_of_whole_characters_and_read_back_from_any_offset(job):
    rnd = random.Random(9)
    # Characters of one to four bytes in UTF-8, in runs, so chunk ends land inside them.
    text = "".join(rnd.choice(["a", "é", "✓", "𝄞", "\n"]) * rnd.randint(1, 3000) for _ in range(900))
    log = logstore.log_for(job)
    with transaction.atomic():
        pos = 0
        while pos < len(text):
            size = rnd.choice([1, 7, 1000, 70_000, 300_000])
            logstore.append(log, text[pos : pos + size])
            pos += size
        log.save()
    data = text.encode()
    chunks = list(log.chunks.order_by("start").values_list("start", "size", "data"))
    assert len(chunks) > CHUNKS_PER_FETCH  # reading crosses from one query's chunks to the next
    for start, size, packed in chunks:
        piece = inflate(packed)
        assert len(piece) == size <= STREAM_PART_MAX
        assert data[start : start + size] == piece
        piece.decode("utf-8")  # strict: no character is cut between chunks
    windows = [(0, None), (1, 10), (STREAM_PART_MAX - 1, 3), (len(data) - 1, None), (len(data), 5)]
    windows += [(rnd.randrange(len(data)), rnd.choice([None, 1, 200_000])) for _ in range(20)]
    for offset, limit in windows:
        end = None if limit is None else offset + limit
        assert b"".join(logstore.read_bytes(log, offset, limit)) == data[offset:end], (offset, limit)
    middle = len(text.encode()[: len(data) // 2].decode("utf-8", "ignore").encode())
    assert "".join(logstore.read(log, middle)) == data[middle:].decode()


def test_a_lone_surrogate_in_a_providers_log_is_stored_as_a_question_mark_and_the_rest_kept(job):
    text = json.loads('"before \\ud800 after"') + "\n✓ next line\n"  # valid JSON, no UTF-8 form
    log = store(job, text)
    assert "".join(logstore.read(log)) == "before ? after\n✓ next line\n"
