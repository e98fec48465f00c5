"""Terminal text to safe HTML: ANSI colours become classes (static/ansi.css), everything
else is escaped.

Build output is written by whoever controls the build, so only colours are honoured:
OSC-8 hyperlinks become their plain text (their target could differ from the text they
show), and every other terminal escape (window titles, cursor moves, device control
strings, C1 controls) is dropped. The only links in a log are http(s) URLs written in
it, linked to exactly the text shown."""

import re

from ansi2html import Ansi2HTMLConverter
from django.utils.safestring import SafeString, mark_safe

_ST = r"(?:\x07|\x1b\\|\x9c)"  # string terminators: BEL, ESC \, C1 ST
# OSC 8 ; params ; URI ST text OSC 8 ; ; ST -> text
_OSC8_LINK = re.compile(rf"(?:\x1b\]|\x9d)8;[^\x07\x1b\x9c]*;[^\x07\x1b\x9c]*{_ST}(.*?)(?:\x1b\]|\x9d)8;;{_ST}", re.S)
# Any other OSC (and an OSC 8 left open), terminated or running to the end of the line.
_OSC = re.compile(rf"(?:\x1b\]|\x9d)[^\x07\x1b\x9c\n]*{_ST}?")
# Device control, start-of-string, privacy message, application program command.
_STRING_CMD = re.compile(rf"(?:\x1b[P_^X]|[\x90\x98\x9e\x9f]).*?(?:{_ST}|$)", re.S)
# Control sequences: kept only when they set colours (SGR, final "m").
_CSI = re.compile(r"(?:\x1b\[|\x9b)([0-?]*[ -/]*)([@-~])")
# Other escapes: ESC 7, ESC ( B, ESC c...; then stray ESC, C0 and C1 controls.
_ESC_OTHER = re.compile(r"\x1b[ -/]*[0-~]?")
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f\x80-\x9f]")

# In escaped text: a URL ends where a space, a quote or an escaped <, > or quote is.
_URL = re.compile(r"(?<![\w/=\"'])https?://(?:(?!&(?:lt|gt|quot|#x27|#39);)[^\s<>\"'`])+", re.I)
_URL_TRAILING = ".,;:!?)]}"


def strip_terminal_escapes(text: str) -> str:
    """``text`` with only its SGR colour sequences left; hyperlinks become their text."""
    text = _OSC8_LINK.sub(lambda m: m.group(1), text)
    text = _OSC.sub("", text)
    text = _STRING_CMD.sub("", text)
    text = _CSI.sub(lambda m: f"\x1b[{m.group(1)}m" if m.group(2) == "m" else "", text)
    text = _ESC_OTHER.sub(lambda m: m.group(0) if m.group(0).startswith("\x1b[") else "", text)
    return _CONTROLS.sub("", text)


def _link(match: re.Match) -> str:
    url = match.group(0)
    trailing = ""
    while url and url[-1] in _URL_TRAILING:
        url, trailing = url[:-1], url[-1] + trailing
    if url.endswith("&amp") and trailing.startswith(";"):  # keep an escaped & whole
        url, trailing = url + ";", trailing[1:]
    return f'<a href="{url}" rel="noopener noreferrer nofollow" target="_blank">{url}</a>{trailing}'


def to_html(text: str) -> SafeString:
    converter = Ansi2HTMLConverter(inline=False, dark_bg=True, escaped=True, line_wrap=False, linkify=False)
    # ansi2html escapes <, > and & itself (escaped=True); with escapes stripped first its
    # output is only spans, whose attributes hold no URL, so links are made in text only.
    html = converter.convert(strip_terminal_escapes(text), full=False)
    return mark_safe(_URL.sub(_link, html))
