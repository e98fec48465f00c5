"""Sections in a job log: the provider-neutral marker lines that the log viewer folds.

A provider that knows where a command or step begins and ends writes marker lines into
the text it stores (``providers/*/adapter.py`` ``fetch_log``):

    \\x1b]ci-section;start;<title>\\x07
    ...the command's output...
    \\x1b]ci-section;end;<exit code>;<seconds>\\x07

They are OSC escape sequences (``ESC ] ... BEL``), which terminals ignore, so the raw
download still reads cleanly. The exit code and the seconds may be empty when unknown.
Sections nest: an end closes the innermost open section. Text before or after a marker
on its line is kept as ordinary output.

GitLab's convention is read too, so logs that already carry it fold without change:

    section_start:<unix time>:<name>[options]\\r\\x1b[0K<title>
    section_end:<unix time>:<name>\\r\\x1b[0K
"""

from __future__ import annotations

import re
from dataclasses import dataclass

START = "start"
END = "end"

# The bytes the log index looks for before parsing a line (cheap to find in a big log).
NEEDLES = (b"\x1b]ci-section;", b"section_start:", b"section_end:")

_OSC = re.compile(r"\x1b\]ci-section;(start|end);([^\x07\x1b]*)(?:\x07|\x1b\\)")
_GITLAB = re.compile(r"section_(start|end):(\d+):([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\r?(?:\x1b\[0K)?")
# Any other OSC sequence (window titles, hyperlinks' brackets) is invisible in a terminal too.
_ANY_OSC = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


@dataclass(frozen=True)
class Marker:
    kind: str  # START or END
    title: str = ""
    exit_code: int | None = None
    seconds: float | None = None
    # GitLab markers carry a name and a time instead of an exit code and a duration.
    name: str = ""
    at: int | None = None


def start_marker(title: str) -> str:
    """The line a provider writes where a section begins (with its newline)."""
    clean = title.replace("\x07", " ").replace("\x1b", " ").replace("\n", " ").replace("\r", " ")
    return f"\x1b]ci-section;start;{clean}\x07\n"


def end_marker(exit_code: int | None = None, seconds: float | None = None) -> str:
    """The line a provider writes where a section ends (with its newline)."""
    code = "" if exit_code is None else str(int(exit_code))
    took = "" if seconds is None else f"{float(seconds):.3f}".rstrip("0").rstrip(".")
    return f"\x1b]ci-section;end;{code};{took}\x07\n"


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value >= 0 and value == value else None  # no negatives, no NaN


def parse(line: str) -> Marker | None:
    """The marker on this line, if it carries one."""
    found = _OSC.search(line)
    if found:
        kind, rest = found.groups()
        if kind == START:
            return Marker(START, title=rest.strip() or "section")
        code, _, took = rest.partition(";")
        return Marker(END, exit_code=_int(code.strip()), seconds=_float(took.strip()))
    found = _GITLAB.search(line)
    if found:
        kind, at, name = found.groups()
        if kind == START:
            title = strip(line[found.end() :]).strip() or name
            return Marker(START, title=title, name=name, at=int(at))
        return Marker(END, name=name, at=int(at))
    return None


def strip(line: str) -> str:
    """The line as a reader should see it: without markers or other OSC sequences."""
    line = _OSC.sub("", line)
    line = _GITLAB.sub("", line)
    return _ANY_OSC.sub("", line)
