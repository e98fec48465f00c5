"""Template filters for showing what came from outside: provider URLs, provider errors,
recorded parameters."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import template

from dashboard.public_errors import answer_for, error_for
from dashboard.secrets import masked, strip_url_credentials

register = template.Library()

_UNSAFE_IN_URL = {chr(c) for c in range(0x21)} | {"\x7f"}


def safe_http_url(url: Any) -> str:
    """``url`` when it is an absolute http(s) URL, else "" (``javascript:``, ``data:``,
    relative and protocol-relative URLs never become links). Credentials are removed."""
    if not isinstance(url, str):
        return ""
    url = url.strip()
    # Browsers drop tabs and newlines inside URLs ("java\tscript:"); refuse any control.
    if not url or any(c in _UNSAFE_IN_URL for c in url):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    return strip_url_credentials(url)


@register.filter
def safe_url(url: Any) -> str:
    return safe_http_url(url)


@register.filter
def public_url(url: Any) -> str:
    """A configured URL (a connection's base URL) for display: never its credentials."""
    return strip_url_credentials(url) if isinstance(url, str) else ""


@register.filter
def masked_params(params: Any) -> Any:
    return masked(params)


@register.filter
def shown_error(text: str, user) -> str:
    """A provider error as ``user`` may see it: raw (truncated) for admins, classified otherwise."""
    return error_for(user, text)


@register.filter
def shown_answer(text: str, user) -> str:
    """A provider's refusal of an action: for operators and admins, classified for viewers."""
    return answer_for(user, text)
