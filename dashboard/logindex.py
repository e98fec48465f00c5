"""Where each line of a stored log starts, and its sections, so the viewer can ask for
lines 120-620 of a 50 MB log without the server or the browser holding the whole log.

The index is built by one pass over the stored chunks and kept in the cache. Only the
last chunk of a log ever changes (``logstore.append`` grows it), so the cached part
covers every chunk before the last, and each request reads just the tail."""

from __future__ import annotations

import bisect
import copy
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.core.cache import cache

from dashboard import logsections
from dashboard.ansi import to_html
from dashboard.models import Log
from dashboard.models.builds import inflate

# The start of an unfinished last line kept for finding a marker on it; markers are short.
PENDING_KEEP = 4096
# Longer lines are cut for display (the raw download has them whole).
MAX_LINE_CHARS = 4000
MAX_SECTIONS = 5000
CACHE_SECONDS = 24 * 3600
# Indexes this process used last, so paging through a log does not unpickle its index
# from the shared cache on every request.
MEMO_SIZE = 8
_memo: OrderedDict[tuple[str, int], LogIndex] = OrderedDict()
_memo_lock = threading.Lock()


@dataclass
class Section:
    start: int  # the line of the start marker (1-based)
    title: str
    end: int | None = None  # the line of the end marker; None while open
    exit_code: int | None = None
    seconds: float | None = None
    depth: int = 0
    name: str = ""  # GitLab markers close by name
    at: int | None = None
    text: str = ""  # what the start line shows besides its marker (so a folded log needs no lines)

    @property
    def failed(self) -> bool:
        return self.exit_code not in (None, 0)

    def as_dict(self, last_line: int) -> dict:
        """For the viewer; keys at their default are left out (big logs have thousands)."""
        data = {"start": self.start, "end": self.end if self.end is not None else last_line, "title": self.title}
        optional = {
            "open": self.end is None,
            "exit": self.exit_code,
            "seconds": self.seconds,
            "depth": self.depth,
            "failed": self.failed,
            "html": to_html(logsections.strip(self.text)) if self.text else "",
        }
        data.update({key: value for key, value in optional.items() if value not in (None, False, 0, "")})
        if self.exit_code == 0:
            data["exit"] = 0
        return data


@dataclass
class LogIndex:
    size: int = 0  # bytes read so far
    lines: int = 0  # newline-terminated lines so far
    partial: bool = False  # bytes follow the last newline
    marks: list[tuple[int, int]] = field(default_factory=list)  # (line number, byte offset it starts at)
    sections: list[Section] = field(default_factory=list)
    open: list[int] = field(default_factory=list)  # indexes of open sections, innermost last
    pending: bytes = b""  # the start of the unfinished last line

    @property
    def total_lines(self) -> int:
        return self.lines + (1 if self.partial else 0)

    def offset_before(self, line: int) -> tuple[int, int]:
        """A (line, byte offset) where reading may start to reach ``line``."""
        i = bisect.bisect_right(self.marks, (line, float("inf"))) - 1
        return self.marks[i] if i >= 0 else (1, 0)

    def section_dicts(self) -> list[dict]:
        last = max(self.total_lines, 1)
        return [s.as_dict(last) for s in self.sections]

    def feed(self, start: int, data: bytes) -> None:
        """Take in the chunk that begins at byte ``start`` (== ``self.size``)."""
        if not data:
            return
        if not self.partial:
            self.marks.append((self.lines + 1, start))
        else:
            first = data.find(b"\n")
            if 0 <= first < len(data) - 1:
                self.marks.append((self.lines + 2, start + first + 1))
        buffer = self.pending + data if self.partial else data
        self._find_markers(buffer, self.lines + 1)
        self.lines += data.count(b"\n")
        self.partial = not data.endswith(b"\n")
        tail = buffer[buffer.rfind(b"\n") + 1 :]
        self.pending = tail[:PENDING_KEEP]
        self.size = start + len(data)

    def _find_markers(self, buffer: bytes, first_line: int) -> None:
        hits = sorted(pos for needle in logsections.NEEDLES for pos in _positions(buffer, needle))
        counted_to, line = 0, first_line
        done_upto = -1
        for pos in hits:
            if pos <= done_upto:
                continue
            begin = buffer.rfind(b"\n", 0, pos) + 1
            end = buffer.find(b"\n", pos)
            if end < 0:
                return  # the line is unfinished; it is read again with the next chunk
            line += buffer.count(b"\n", counted_to, begin)
            counted_to = begin
            done_upto = end
            text = buffer[begin:end].decode("utf-8", "replace")
            marker = logsections.parse(text)
            if marker is not None:
                self._apply(marker, line, text)

    def _apply(self, marker: logsections.Marker, line: int, text: str) -> None:
        if marker.kind == logsections.START:
            if len(self.sections) >= MAX_SECTIONS:
                return
            shown = logsections.strip(text).replace("\r", "").strip()[:MAX_LINE_CHARS]
            self.sections.append(
                Section(line, marker.title, depth=len(self.open), name=marker.name, at=marker.at, text=shown)
            )
            self.open.append(len(self.sections) - 1)
            return
        if not self.open:
            return
        position = len(self.open) - 1
        if marker.name:  # GitLab: close the section of that name (and any left open inside it)
            names = [self.sections[i].name for i in self.open]
            if marker.name not in names:
                return
            position = len(names) - 1 - names[::-1].index(marker.name)
        section = self.sections[self.open[position]]
        del self.open[position:]
        section.end = line
        section.exit_code = marker.exit_code
        if marker.seconds is not None:
            section.seconds = marker.seconds
        elif marker.at is not None and section.at is not None:
            section.seconds = float(max(marker.at - section.at, 0))


def _positions(buffer: bytes, needle: bytes) -> Iterator[int]:
    pos = buffer.find(needle)
    while pos >= 0:
        yield pos
        pos = buffer.find(needle, pos + 1)


def _key(log: Log) -> str:
    return f"logindex:v2:{log.job_id}:{log.pk}"


def index_for(log: Log) -> LogIndex:
    """The index of everything stored for this log now."""
    if not log.pk or not log.size:
        return LogIndex()
    key = _key(log)
    with _memo_lock:
        known = _memo.get((key, log.size))
        if known is not None:
            _memo.move_to_end((key, log.size))
            return known
    cached = cache.get(key)
    base: LogIndex | None = cached[0] if cached else LogIndex()
    full: LogIndex | None = cached[1] if cached else None
    if full is not None and full.size == log.size:
        return _remember(key, full)
    if base is None or base.size > log.size:  # complete before, or stored again from scratch
        base = LogIndex()
    previous: tuple[int, bytes] | None = None
    for start, data in log.packed_chunks(base.size):
        if previous is not None:
            base.feed(*previous)
        previous = (start, inflate(data))
    full = copy.deepcopy(base)
    if previous is not None:
        full.feed(*previous)
    # A complete log never grows: its index alone is kept.
    cache.set(key, (None if log.complete else base, full), CACHE_SECONDS)
    return _remember(key, full)


def _remember(key: str, index: LogIndex) -> LogIndex:
    with _memo_lock:
        _memo[(key, index.size)] = index
        _memo.move_to_end((key, index.size))
        while len(_memo) > MEMO_SIZE:
            _memo.popitem(last=False)
    return index


def read_lines(log: Log, index: LogIndex, first: int, count: int) -> list[str]:
    """Lines ``first`` .. ``first + count - 1`` (1-based), each cut at MAX_LINE_CHARS."""
    first = max(first, 1)
    last = min(first + count - 1, index.total_lines)
    if last < first:
        return []
    line, offset = index.offset_before(first)
    out: list[str] = []
    carry = ""
    for text in log.chunks_from(offset):
        parts = (carry + text).split("\n")
        carry = parts.pop()
        if len(carry) > MAX_LINE_CHARS * 2 and line >= first:
            carry = carry[: MAX_LINE_CHARS * 2]  # a giant line: what is shown is enough
        for part in parts:
            if line >= first:
                out.append(_cut(part))
            line += 1
            if line > last:
                return out
    if carry and line <= last:
        out.append(_cut(carry))
    return out


def _cut(line: str) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    return line[:MAX_LINE_CHARS] + f" … ({len(line) - MAX_LINE_CHARS} more characters in the raw log)"


def forget() -> None:
    """Drop this process's remembered indexes (tests that reuse row ids call it)."""
    with _memo_lock:
        _memo.clear()
