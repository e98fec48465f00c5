"""Masking secrets wherever parameters are kept or shown: the audit log (ActionLog and the
pages and API that show it), application logs and error reports.

A value is secret by declaration (an action's ``secret_fields``) or by shape:

- it sits under a name that looks like a credential (``*_TOKEN``, ``*_SECRET``,
  ``*_KEY``, ``PASSWORD``, ``PASSWD``, ``CREDENTIAL``, ``PRIVATE``, ``AUTH``...), as a dict
  key, as the ``name`` of a ``{"name": ..., "value": ...}`` entry of an env-var list, or
  as the name of a ``NAME=value`` / ``NAME: value`` line or a ``--name=value`` flag in
  text;
- or it looks like a credential wherever it is: the user part of a URL
  (``https://user:pass@host``), a PEM private key, an ``Authorization`` scheme's
  credentials (``Bearer ...``), and well-known token formats (JWTs, GitHub, GitLab,
  Slack, AWS access keys).

Names are kept and values replaced by ``MASK``, so the audit log still says *which*
variables were set. Masking is idempotent: masked data masked again is unchanged."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.views.debug import SafeExceptionReporterFilter

MASK = "(hidden)"

# Parts of a name that mark a credential wherever they appear in it ("GITHUB_TOKEN",
# "oauthClientSecret", "db_password")...
_SECRET_PARTS = (
    "token",
    "secret",
    "key",
    "passw",
    "passphrase",
    "credential",
    "private",
    "auth",
    "cookie",
    "session",
    "jwt",
    "bearer",
    "dsn",
    "signature",
    "pwd",
    "salt",
)
# ...and words that do only as a whole word of it ("DB_PASS", but not "bypass"). Erring
# on the side of masking ("KEYBOARD") costs a hidden harmless value, never a leak.
_SECRET_WORDS = frozenset({"pass", "pin", "otp", "sig"})
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")

# Keys that name an entry of an env-var list, and keys that hold its value.
_NAME_KEYS = ("name", "key", "variable", "var", "id")
_VALUE_KEYS = ("value", "secret", "content", "data")


def looks_secret(name: Any) -> bool:
    """Whether a variable, key or flag name looks like it holds a credential."""
    if not isinstance(name, str) or not name:
        return False
    lowered = name.lower()
    if any(part in lowered for part in _SECRET_PARTS):
        return True
    return any(word.lower() in _SECRET_WORDS for word in _WORD_SPLIT.split(name) if word)


# Text ------------------------------------------------------------------------------------
_NAME = r"[A-Za-z_][A-Za-z0-9_.\-]*"
_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.DOTALL)
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)([^\s/?#\"'<>]+)@")
_AUTH_SCHEME = re.compile(r"(?i)\b(Bearer|Basic|Token|Digest)(\s+)(?!\(hidden\))([A-Za-z0-9._~+/=\-]{6,})")
_KNOWN_TOKENS = re.compile(
    r"\b(?:"
    r"eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*"  # JWT
    r"|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"  # GitHub
    r"|glpat-[A-Za-z0-9_\-]{20,}"  # GitLab
    r"|xox[abposr]-[A-Za-z0-9\-]{10,}"  # Slack
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"  # AWS access key id
    r"|sk_live_[A-Za-z0-9]{16,}"  # Stripe
    r")"
)
# A whole line "NAME=value", "export NAME=value", "NAME: value": the rest of the line is
# the value, spaces and all.
_LINE_ASSIGN = re.compile(rf"(?m)^([ \t]*(?:export[ \t]+)?[\"']?({_NAME})[\"']?[ \t]*[=:][ \t]*)(\S.*?)[ \t]*$")
# The same, "=" only: env-var text, whose names may be kept when all of it is secret.
_ENV_LINE = re.compile(rf"(?m)^([ \t]*(?:export[ \t]+)?({_NAME})[ \t]*=[ \t]*)(.*?)[ \t]*$")
# Inside a line: NAME=value, NAME: value, "name": "value".
_INLINE_ASSIGN = re.compile(rf"([\"']?)({_NAME})\1([ \t]*[=:][ \t]*)(\"[^\"\n]*\"|'[^'\n]*'|\S+)")
# A query parameter: ?access_token=...
_QUERY_PARAM = re.compile(rf"([?&;])({_NAME})=([^&#\s\"'<>]+)")
# A command-line flag and the word after it: --password hunter2.
_FLAG = re.compile(r"(--?)([A-Za-z][A-Za-z0-9_.\-]*)([ \t]+)(\"[^\"\n]*\"|'[^'\n]*'|[^\s\-]\S*)")


def _mask_line_value(match: re.Match) -> str:
    prefix, name, value = match.group(1), match.group(2), match.group(3)
    if not looks_secret(name) or value == MASK:
        return match.group(0)
    return prefix + MASK


def _masked_value(value: str) -> str:
    quote = value[0] if value[:1] in "\"'" and len(value) > 1 and value[-1] == value[0] else ""
    return f"{quote}{MASK}{quote}"


def _mask_inline_value(match: re.Match) -> str:
    quote, name, sep, value = match.groups()
    if not looks_secret(name) or value.strip("\"'") == MASK:
        return match.group(0)
    return f"{quote}{name}{quote}{sep}{_masked_value(value)}"


def _mask_query_value(match: re.Match) -> str:
    lead, name, _value = match.groups()
    return f"{lead}{name}={MASK}" if looks_secret(name) else match.group(0)


def _mask_flag_value(match: re.Match) -> str:
    dashes, name, space, value = match.groups()
    if not looks_secret(name) or value.strip("\"'") == MASK:
        return match.group(0)
    return f"{dashes}{name}{space}{_masked_value(value)}"


def scrub_text(text: str) -> str:
    """``text`` with every credential that its shape gives away masked."""
    if not text or not isinstance(text, str):
        return text
    text = _PEM.sub(f"-----BEGIN \\1PRIVATE KEY----- {MASK}", text)
    text = _URL_USERINFO.sub(lambda m: m.group(0) if m.group(2) == MASK else f"{m.group(1)}{MASK}@", text)
    text = _AUTH_SCHEME.sub(rf"\1\2{MASK}", text)
    text = _KNOWN_TOKENS.sub(MASK, text)
    text = _QUERY_PARAM.sub(_mask_query_value, text)
    text = _LINE_ASSIGN.sub(_mask_line_value, text)
    text = _INLINE_ASSIGN.sub(_mask_inline_value, text)
    return _FLAG.sub(_mask_flag_value, text)


def strip_url_credentials(url: str) -> str:
    """A URL without its ``user:password@`` part, for display."""
    if not isinstance(url, str):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is not None and parts.scheme and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return _URL_USERINFO.sub(lambda m: m.group(1), url)


# Structures -------------------------------------------------------------------------------
@dataclass
class Masked:
    """Parameters as they may be kept, and the secret values taken out of them (to mask
    them also where a provider echoes them back, e.g. in an error message)."""

    params: dict
    values: set[str] = field(default_factory=set)

    def redact(self, text: str) -> str:
        return redact(text, self.values)


class _Masker:
    def __init__(self) -> None:
        self.values: set[str] = set()

    def hide(self, value: Any) -> Any:
        """The whole value is secret: keep its names, mask every value in it."""
        if value is None:
            return None
        if isinstance(value, dict):
            return {str(k): self.hide(v) for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self._hide_item(item) for item in value]
        if isinstance(value, str):
            if value == MASK:
                return value
            if "\n" in value.strip() and all(
                _ENV_LINE.fullmatch(line) or not line.strip() for line in value.splitlines()
            ):
                # NAME=value lines: keep the names.
                self._remember_line_values(value)
                return _ENV_LINE.sub(lambda m: m.group(1) + MASK, value)
        self._remember(value)
        return MASK

    def _hide_item(self, item: Any) -> Any:
        if isinstance(item, dict):
            name_key = _entry_name_key(item)
            if name_key:
                return {k: (v if k == name_key else self.hide(v)) for k, v in item.items()}
            return self.hide(item)
        if isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str):
            # (name, value) or (path, content) pairs.
            return [item[0], self.hide(item[1])]
        return self.hide(item)

    def scan(self, value: Any) -> Any:
        """Mask what looks secret inside a value that is not secret as a whole."""
        if isinstance(value, dict):
            return self._scan_dict(value)
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self._scan_item(item) for item in value]
        if isinstance(value, str):
            scrubbed = scrub_text(value)
            if scrubbed != value:
                self._remember_diff(value, scrubbed)
            return scrubbed
        if isinstance(value, (datetime, date)):
            return value.isoformat()
        if isinstance(value, (int, float, bool)) or value is None:
            return value
        return self.scan(str(value))

    def _scan_dict(self, value: dict) -> dict:
        name_key = _entry_name_key(value)
        if name_key and looks_secret(value.get(name_key)):
            return {k: (v if k == name_key else self.hide(v)) for k, v in value.items()}
        return {str(k): (self.hide(v) if looks_secret(str(k)) else self.scan(v)) for k, v in value.items()}

    def _scan_item(self, item: Any) -> Any:
        if isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str) and looks_secret(item[0]):
            return [item[0], self.hide(item[1])]
        return self.scan(item)

    # Remembering the values taken out, to redact them from free text later.
    def _remember(self, value: Any) -> None:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            text = str(value)
            if len(text) >= 4 and text != MASK:
                self.values.add(text)

    def _remember_line_values(self, text: str) -> None:
        for match in _ENV_LINE.finditer(text):
            self._remember(match.group(3))

    def _remember_diff(self, before: str, after: str) -> None:
        for match in _LINE_ASSIGN.finditer(before):
            if looks_secret(match.group(2)):
                self._remember(match.group(3))
        for match in _INLINE_ASSIGN.finditer(before):
            if looks_secret(match.group(2)):
                self._remember(match.group(4).strip("\"'"))
        for match in _QUERY_PARAM.finditer(before):
            if looks_secret(match.group(2)):
                self._remember(match.group(3))
        for match in _FLAG.finditer(before):
            if looks_secret(match.group(2)):
                self._remember(match.group(4).strip("\"'"))
        for pattern in (_KNOWN_TOKENS, _PEM):
            for match in pattern.finditer(before):
                self._remember(match.group(0))
        for match in _URL_USERINFO.finditer(before):
            self._remember(match.group(2))
            self._remember(match.group(2).partition(":")[2])
        for match in _AUTH_SCHEME.finditer(before):
            self._remember(match.group(3))


def _entry_name_key(entry: dict) -> str | None:
    """The key naming an env-var-like entry ``{"name": "X", "value": "..."}``, if it is one."""
    name_key = next((k for k in _NAME_KEYS if isinstance(entry.get(k), str)), None)
    if name_key and any(k in entry for k in _VALUE_KEYS):
        return name_key
    return None


def mask_params(params: dict, secret_fields: Iterable[str] = ()) -> Masked:
    """Parameters with the values of ``secret_fields`` and every value that looks
    secret masked, names kept; values made JSON-safe."""
    masker = _Masker()
    declared = set(secret_fields)
    kept: dict[str, Any] = {}
    for key, value in (params or {}).items():
        key = str(key)
        kept[key] = masker.hide(value) if key in declared or looks_secret(key) else masker.scan(value)
    return Masked(kept, masker.values)


def masked(params: Any) -> Any:
    """Stored parameters masked again at display time (rows kept before masking existed)."""
    if not isinstance(params, dict):
        return _Masker().scan(params)
    return mask_params(params).params


def redact(text: str, values: Iterable[str] = ()) -> str:
    """``text`` with the given secret values and anything shaped like a credential masked."""
    if not isinstance(text, str) or not text:
        return text
    for value in sorted(values, key=len, reverse=True):
        if value and value in text:
            text = text.replace(value, MASK)
    return scrub_text(text)


# Application logs and error pages -------------------------------------------------------
class RedactingFilter(logging.Filter):
    """A logging filter that masks credentials in the formatted message (and traceback),
    so nothing written to the application log carries one."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logged as it is
            return True
        scrubbed = scrub_text(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_info and record.exc_info[1] is not None:
            # Format the traceback now, scrubbed; the formatter uses exc_text as it is.
            record.exc_text = scrub_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class SecretsExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's error reports (debug pages, mails to ADMINS) with the same masking: POST
    fields and local variables are masked by name and by shape."""

    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|CREDENTIAL|PRIVATE|DATABASE_URL|REDIS_URL|BROKER_URL",
        flags=re.IGNORECASE,
    )

    def get_post_parameters(self, request):
        post = super().get_post_parameters(request)
        if not post:
            return post
        post = post.copy()
        for key in list(post.keys()):
            values = post.getlist(key)
            if looks_secret(key):
                post.setlist(key, [self.cleansed_substitute for _ in values])
            else:
                post.setlist(key, [scrub_text(v) if isinstance(v, str) else v for v in values])
        return post

    def get_traceback_frame_variables(self, request, tb_frame):
        cleansed = []
        for name, value in super().get_traceback_frame_variables(request, tb_frame):
            if looks_secret(name):
                value = self.cleansed_substitute
            elif isinstance(value, dict):
                value = masked(value)
            elif isinstance(value, str):
                value = scrub_text(value)
            cleansed.append((name, value))
        return cleansed
