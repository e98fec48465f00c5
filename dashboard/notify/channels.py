"""Talking to chat and mail services is Apprise's job: one URL names the service and its
credentials (slack://…, workflows://… (Teams), discord://…, mailto://…, json://… for a generic
webhook). Here: check a URL, name its service, send, and keep secrets out of errors.

Apprise logs what goes wrong, sometimes with parts of the URL; while sending, its logger
writes only to us (not to the process log), and what we keep is redacted."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, unquote, urlsplit

log = logging.getLogger(__name__)

# Delivery.Kind -> Apprise's notify type (its colour and icon in most services).
NOTIFY_TYPES = {
    "break": "failure",
    "still_failing": "failure",
    "recover": "success",
    "missed_schedule": "warning",
    "unhealthy": "warning",
    "test": "info",
}


class SendFailed(Exception):
    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            self.lines.append(record.getMessage())


@contextmanager
def _apprise_logs() -> Iterator[_Collect]:
    """Apprise's log lines go to the returned collector only, never to the process log
    (they can quote the URL). Celery runs one task per process, so swapping the logger's
    settings for the duration does not race."""
    apprise_log = logging.getLogger("apprise")
    collect, propagate, level = _Collect(), apprise_log.propagate, apprise_log.level
    apprise_log.addHandler(collect)
    apprise_log.propagate = False
    apprise_log.setLevel(logging.INFO)
    try:
        yield collect
    finally:
        apprise_log.removeHandler(collect)
        apprise_log.propagate = propagate
        apprise_log.setLevel(level)


def _plugin(url: str):
    import apprise

    with _apprise_logs():
        return apprise.Apprise.instantiate(url.strip(), suppress_exceptions=True)


def problem(url: str) -> str:
    """Why a notification URL cannot be used, in words; "" when it can. Never repeats
    the URL, which holds secrets."""
    url = url.strip()
    if not url:
        return "Enter the channel's Apprise URL."
    if "://" not in url:
        return (
            "An Apprise URL starts with its service, e.g. slack://…, workflows://… (Teams), discord://…, "
            "mailto://… or json://…"
        )
    if any(c.isspace() for c in url):
        return "The URL must not contain spaces or line breaks."
    if _plugin(url) is None:
        scheme = url.split("://", 1)[0][:20]
        return f"Apprise does not understand this {scheme}:// URL; compare it with the service's Apprise wiki page."
    return ""


def service_name(url: str) -> str:
    plugin = _plugin(url) if url else None
    return str(getattr(plugin, "service_name", "") or "?") if plugin else "not usable"


def secrets_of(url: str) -> list[str]:
    """The parts of a URL that may be credentials, longest first."""
    parts = urlsplit(url.strip())
    found = {url.strip(), parts.password or "", parts.username or ""}
    host = parts.netloc.rpartition("@")[2].partition(":")[0]  # as written: tokens are case-sensitive
    if host and "." not in host and host != "localhost":  # slack://TokenA/…, discord://webhook_id/…
        found.add(host)
    found.update(segment for segment in parts.path.split("/") if len(segment) >= 6)
    found.update(value for _, value in parse_qsl(parts.query) if len(value) >= 6)
    found |= {unquote(s) for s in found}
    return sorted((s for s in found if len(s) >= 3), key=len, reverse=True)


def redact(text: str, url: str) -> str:
    for secret in secrets_of(url):
        text = text.replace(secret, "***")
    return text


def send(url: str, title: str, body: str, kind: str = "test") -> None:
    """Send one message; raises SendFailed with a redacted reason."""
    import apprise

    if problem(url):
        raise SendFailed("The channel's URL is not usable; an admin must enter it again.", permanent=True)
    notifier = apprise.Apprise()
    with _apprise_logs() as collect:
        notifier.add(url.strip())
        try:
            ok = notifier.notify(title=title, body=body, notify_type=NOTIFY_TYPES.get(kind, "info"))
        except Exception as exc:  # a plugin bug must not kill the worker; report it as a failure
            collect.lines.append(f"{type(exc).__name__}: {exc}")
            ok = False
    if not ok:
        reason = " | ".join(dict.fromkeys(collect.lines)) or "The service did not accept the message."
        raise SendFailed(redact(reason, url)[:2000])
