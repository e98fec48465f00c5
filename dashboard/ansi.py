"""Terminal text to safe HTML: ANSI colours become classes (static/ansi.css), everything
else is escaped."""

from ansi2html import Ansi2HTMLConverter
from django.utils.safestring import SafeString, mark_safe


def to_html(text: str) -> SafeString:
    converter = Ansi2HTMLConverter(inline=False, dark_bg=True, escaped=True, line_wrap=False)
    # ansi2html escapes <, > and & itself (escaped=True); its output is only spans.
    return mark_safe(converter.convert(text, full=False))
