"""Metric series as inline SVG polylines, drawn on the server (no JavaScript), for the
job page's panel (docs/providers/jobsplatform.md, "Panels"; the series' shape is in
"The contract we assume")."""

from __future__ import annotations

from typing import Any

from providers.base.parse import obj, text

from . import contract as c

WIDTH, HEIGHT = 600, 120
LABELS = {c.CPU_USAGE: "CPU", c.MEMORY_USAGE: "Memory"}


def points(series: list, start: float, end: float, width: int = WIDTH, height: int = HEIGHT) -> tuple[str, float]:
    """``"x,y x,y ..."`` in a ``0 0 width height`` box (y grows downwards), and the top
    of the y axis. Points outside the window or not numeric are dropped."""
    clean = []
    for point in series:
        if isinstance(point, list | tuple) and len(point) == 2:
            try:
                t, v = float(point[0]), float(point[1])
            except (TypeError, ValueError):
                continue
            if start <= t <= end:
                clean.append((t, max(v, 0.0)))
    top = max((v for _, v in clean), default=0.0) * 1.1 or 1.0
    span = max(end - start, 1.0)
    coords = (f"{(t - start) / span * width:.1f},{height - v / top * height:.1f}" for t, v in clean)
    return " ".join(coords), top


def human(value: float, unit: str) -> str:
    if unit == "bytes":
        for suffix in ("B", "KiB", "MiB", "GiB"):
            if value < 1024 or suffix == "GiB":
                return f"{value:.0f} {suffix}" if suffix == "B" else f"{value:.1f} {suffix}"
            value /= 1024
    if unit == "cores":
        return f"{value:.2f} cores"
    return f"{value:g} {unit}".strip()


def chart(name: str, result: Any, start: float, end: float) -> dict:
    """One metric for the template: its polyline, or its own error in words."""
    result = obj(result)
    label = LABELS.get(name, name)
    if result.get(c.STATUS) != c.SUCCESS:
        message = text(result.get(c.MESSAGE)) or "the platform returned no result for this metric"
        return {"name": name, "label": label, "error": message}
    unit = text(result.get(c.UNIT)) or c.METRICS.get(name, "")
    series = result.get(c.SERIES) if isinstance(result.get(c.SERIES), list) else []
    line, top = points(series, start, end)
    values = [float(p[1]) for p in series if isinstance(p, list | tuple) and len(p) == 2 and _number(p[1])]
    return {
        "name": name,
        "label": label,
        "unit": unit,
        "points": line,
        "empty": not line,
        "top": human(top, unit),
        "latest": human(values[-1], unit) if values else "",
        "peak": human(max(values), unit) if values else "",
        "width": WIDTH,
        "height": HEIGHT,
    }


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
