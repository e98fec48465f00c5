"""What people see of a provider's error. A provider's answer can carry anything (an
internal service's body, a stack trace, an echoed credential), so viewers get a short
classified message; admins get the raw text, truncated, with credentials masked (and
escaped by the template or the JSON encoder that shows it)."""

from __future__ import annotations

import re

from dashboard.secrets import scrub_text

AUTH_FAILED = "auth failed: the provider refused the dashboard's token"
NOT_ALLOWED = "auth failed: the token lacks permission for this"
TOKEN_UNREADABLE = "auth failed: token unreadable, re-enter it"
UNREACHABLE = "unreachable: the provider could not be reached"
REFUSED_BY_POLICY = "unreachable: the address is not allowed by the outbound policy"
RATE_LIMITED = "rate limited: the provider asked us to slow down; the next sync tries again"
UNEXPECTED = "unexpected answer from the provider"
PARTIAL = "unexpected answer: some items could not be read"

ADMIN_LIMIT = 500

# First match wins; patterns read the messages our clients and the sync write.
_CLASSES: list[tuple[re.Pattern, str]] = [
    (re.compile(r"token unreadable", re.I), TOKEN_UNREADABLE),
    (re.compile(r"outbound policy", re.I), REFUSED_BY_POLICY),
    (re.compile(r"rate limit|\b429\b|too many requests", re.I), RATE_LIMITED),
    (re.compile(r"refused the token|bad token|\b401\b|unauthori[sz]ed|auth failed|authentication", re.I), AUTH_FAILED),
    (re.compile(r"^not allowed|permission denied|\b403\b|forbidden", re.I), NOT_ALLOWED),
    (
        re.compile(
            r"cannot connect|did not answer in time|timed? ?out|connection to .* failed|unreachable"
            r"|the provider failed \(5\d\d\)|\b50[234]\b|name or service not known|connection refused",
            re.I,
        ),
        UNREACHABLE,
    ),
    (re.compile(r"item\(s\) could not be read", re.I), PARTIAL),
]


def public_error(text: str) -> str:
    """A provider error as a viewer may see it: auth failed / unreachable / rate limited /
    unexpected answer, never the provider's own words."""
    if not text:
        return ""
    for pattern, message in _CLASSES:
        if pattern.search(text):
            return message
    return UNEXPECTED


def admin_error(text: str, limit: int = ADMIN_LIMIT) -> str:
    """The raw error for an admin: credentials masked, truncated."""
    if not text:
        return ""
    text = scrub_text(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_for(user, text: str, limit: int = ADMIN_LIMIT) -> str:
    """The raw error (truncated) for admins, the classified one for everyone else."""
    if user is not None and getattr(user, "is_staff", False):
        return admin_error(text, limit)
    return public_error(text)


def answer_for(user, text: str, limit: int = ADMIN_LIMIT) -> str:
    """A provider's refusal of an action, as recorded in the audit log: operators and
    admins (who press the buttons, and must know why one was refused) read it, masked
    and truncated; viewers get the classified form."""
    from dashboard.roles import can_operate

    if user is not None and (getattr(user, "is_staff", False) or can_operate(user)):
        return admin_error(text, limit)
    return public_error(text)
