"""Status badges: a small shields-style SVG (label | status) drawn from our own template.
Each half carries its own dark background with white text, so a badge reads the same on
light and dark READMEs; colours keep white text above 4.5:1 contrast."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.template.loader import render_to_string

from .status import PairStatus

LABEL_COLOUR = "#444d56"
COLOURS = {"passing": "#1a7f37", "failing": "#cf222e", "unknown": "#6e7781"}
MAX_LABEL = 40

# Approximate advance widths (px) of Verdana/DejaVu Sans at 11 px; the text is stretched
# to the computed width (textLength), so any font fills its box the same way.
_NARROW = dict.fromkeys("ijl|!.,:;'`", 3.5) | dict.fromkeys("frtI()[]{}/\\-", 4.8) | {" ": 3.9}
_WIDE = dict.fromkeys("mwMW%@", 10.5)


def text_width(text: str) -> float:
    width = 0.0
    for char in text:
        if char in _NARROW:
            width += _NARROW[char]
        elif char in _WIDE:
            width += _WIDE[char]
        elif char.isupper():
            width += 7.7
        else:
            width += 6.8
    return round(width, 1)


@dataclass
class Badge:
    label: str
    message: str
    colour: str

    def svg(self) -> str:
        label_text, message_text = text_width(self.label), text_width(self.message)
        label_box, message_box = round(label_text + 12), round(message_text + 12)
        return render_to_string(
            "dashboard/feeds/badge.svg",
            {
                "badge": self,
                "label_colour": LABEL_COLOUR,
                "width": label_box + message_box,
                "label_box": label_box,
                "message_box": message_box,
                "label_x": label_box / 2,
                "message_x": label_box + message_box / 2,
                "label_text": label_text,
                "message_text": message_text,
            },
        )


def summarise(label: str, pairs: list[PairStatus]) -> Badge:
    """One pipeline x branch reads "passing"/"failing"; several read "passing" when all
    pass, else "N of M failing"; none with a verdict reads "unknown"."""
    label = (label.strip() or "build")[:MAX_LABEL]
    verdicts = [p.passing for p in pairs if p.passing is not None]
    if not verdicts:
        return Badge(label, "unknown", COLOURS["unknown"])
    failing = verdicts.count(False)
    if not failing:
        return Badge(label, "passing", COLOURS["passing"])
    message = "failing" if len(verdicts) == 1 else f"{failing} of {len(verdicts)} failing"
    return Badge(label, message, COLOURS["failing"])


def etag(svg: str) -> str:
    return '"' + hashlib.sha256(svg.encode()).hexdigest()[:32] + '"'
