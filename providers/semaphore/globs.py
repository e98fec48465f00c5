"""Double-star globs as Semaphore matches artifact paths against retention rules
(docs/providers/semaphore.md, "Artifact retention"): for an artifact the first rule whose
selector matches its path applies.

Assumptions where the docs are silent: selectors are matched against the artifact path
without its leading ``/``; ``**`` spans directories (zero or more), ``*`` and ``?`` stay
within one, ``[...]`` and ``{a,b}`` work as in the doublestar globs Semaphore uses."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from providers.base.parse import items, obj, text


def _segment_regex(segment: str) -> str:
    """One path segment of a glob: ``*``, ``?``, ``[...]``, ``{a,b}``; nothing crosses ``/``."""
    out: list[str] = []
    i = 0
    while i < len(segment):
        c = segment[i]
        if c == "*":
            while i + 1 < len(segment) and segment[i + 1] == "*":
                i += 1
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\" and i + 1 < len(segment):
            i += 1
            out.append(re.escape(segment[i]))
        elif c == "[" and segment.find("]", i + 2) > 0:
            end = segment.find("]", i + 2)  # a "]" right after "[" is a member, as in shells
            body = segment[i + 1 : end]
            negate = body[:1] in ("!", "^")
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\").replace("[", "\\[") + "]")
            i = end
        elif c == "{":
            depth, end = 0, -1
            for j in range(i, len(segment)):
                depth += {"{": 1, "}": -1}.get(segment[j], 0)
                if depth == 0:
                    end = j
                    break
            if end < 0:
                out.append(re.escape(c))
            else:
                alternatives = _split_alternatives(segment[i + 1 : end])
                out.append("(?:" + "|".join(_segment_regex(a) for a in alternatives) + ")")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _split_alternatives(body: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for j, c in enumerate(body):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(body[start:j])
            start = j + 1
    parts.append(body[start:])
    return parts


@lru_cache(maxsize=512)
def glob_regex(selector: str) -> re.Pattern[str]:
    """A double-star glob as a regular expression over paths without a leading ``/``:
    a ``**`` segment stands for zero or more directories."""
    segments = selector.strip().lstrip("/").split("/")
    regex, joined = "", False
    for k, segment in enumerate(segments):
        last = k == len(segments) - 1
        if segment == "**":
            if last:
                regex += "(?:/.*)?" if joined else ".*"
            else:
                regex += ("/" if joined else "") + "(?:.*/)?"
                joined = False
        else:
            regex += ("/" if joined else "") + _segment_regex(segment)
            joined = True
    try:
        return re.compile(f"^{regex}$", re.DOTALL)
    except re.error:  # an odd character class: match the selector literally rather than fail
        return re.compile("^" + re.escape(selector.strip().lstrip("/")) + "$")


def glob_match(selector: str, path: str) -> bool:
    """Whether an artifact ``path`` falls under ``selector`` (leading ``/`` optional on both)."""
    return bool(glob_regex(selector).match(path.strip().lstrip("/")))


def first_match(path: str, rules: Any) -> tuple[int, dict] | None:
    """The rule that applies to ``path``: the first whose selector matches (1-based index)."""
    for index, rule in enumerate(items(rules), start=1):
        selector = text(obj(rule).get("selector"))
        if selector and glob_match(selector, path):
            return index, obj(rule)
    return None
