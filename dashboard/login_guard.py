"""Guessing passwords and tokens does not pay: django-axes counts failed logins per user
name and client address (the login page, Django admin and API authentication alike) and
locks that pair out for a while after ``LOGIN_FAILURE_LIMIT`` failures. An admin unlocks
early in Django admin (Axes > Access attempts: delete the row) or with
``manage.py axes_reset_username <name>``."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

# Failed bearer tokens are counted under this name (it cannot be a user name), so bad
# tokens from one address lock that address out of token logins.
BEARER_USERNAME = "(api token)"


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or with TRUSTED_PROXY_COUNT proxies in front,
    the address the outermost trusted proxy saw (from X-Forwarded-For)."""
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")


class LockoutBackend(AxesStandaloneBackend):
    """Axes' lockout check, for logins that come with a request. Calls without one (a
    management command, a test's ``client.login``) are not web logins and pass through."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def is_locked_out(request: HttpRequest, username: str) -> bool:
    return settings.AXES_ENABLED and not AxesProxyHandler.is_allowed(request, {"username": username})


def record_failure(request: HttpRequest, username: str) -> None:
    from django.contrib.auth.signals import user_login_failed

    user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)


def lockout_message() -> str:
    cool_off = get_cool_off()
    wait = f"in {int(cool_off.total_seconds() // 60)} minutes" if cool_off else "later"
    return f"Too many failed logins from this address. Try again {wait}, or ask an administrator to unlock the account."


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """The answer to a locked-out login: JSON for the API, the lockout page otherwise."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": lockout_message()}, status=settings.AXES_HTTP_RESPONSE_CODE)
    context = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "username": (credentials or {}).get("username", "") if isinstance(credentials, dict) else "",
        "cooloff_timedelta": get_cool_off(),
    }
    return render(request, "registration/locked_out.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)
