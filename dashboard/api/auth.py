"""How scripts authenticate to the API: a personal token (``Authorization: Bearer
<token>``, made on the "API tokens" page), or, when ``API_BASIC_AUTH`` is on, a user name
and password. Both count failures against the login lockout (dashboard/login_guard.py),
and the API is throttled per client (anonymous) and per user."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, BasicAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from dashboard import login_guard
from dashboard.models import ApiToken

# last_used_at is written at most this often per token, not on every call.
LAST_USED_EVERY = timedelta(minutes=1)


class LockedOut(exceptions.APIException):
    status_code = 429
    default_code = "locked_out"

    def __init__(self):
        super().__init__(login_guard.lockout_message())


class BearerTokenAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Give the token as: Authorization: Bearer <token>.")
        try:
            secret = parts[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("The token is not valid.") from exc
        django_request = request._request
        if login_guard.is_locked_out(django_request, login_guard.BEARER_USERNAME):
            raise LockedOut()
        token = ApiToken.find(secret)
        if token is None or not token.user.is_active:
            login_guard.record_failure(django_request, login_guard.BEARER_USERNAME)
            raise exceptions.AuthenticationFailed("The token is not valid (it may have been revoked).")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_EVERY:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'


class LockoutBasicAuthentication(BasicAuthentication):
    """Basic auth (only with API_BASIC_AUTH) through Django's authenticate() with the
    real request, so a locked-out user name and address stay locked out."""

    def authenticate(self, request):
        if not settings.API_BASIC_AUTH:
            return None
        return super().authenticate(request)

    def authenticate_credentials(self, userid, password, request=None):
        django_request = getattr(request, "_request", request)
        if login_guard.is_locked_out(django_request, userid):
            raise LockedOut()
        user = authenticate(request=django_request, username=userid, password=password)
        if getattr(django_request, "axes_locked_out", False):
            raise LockedOut()
        if user is None or not user.is_active:
            raise exceptions.AuthenticationFailed("Invalid user name or password.")
        return user, None


class BearerScheme(OpenApiAuthenticationExtension):
    target_class = "dashboard.api.auth.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A personal API token (the API tokens page)."}


class BasicScheme(OpenApiAuthenticationExtension):
    target_class = "dashboard.api.auth.LockoutBasicAuthentication"
    name = "basicAuth"

    def get_security_requirement(self, auto_schema):
        return {self.name: []} if settings.API_BASIC_AUTH else None

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "basic", "description": "Only when API_BASIC_AUTH is on."}


class _SettingsRate:
    """Rates read from ``settings.API_THROTTLE_RATES`` when a request comes, not at import."""

    def get_rate(self):
        return settings.API_THROTTLE_RATES.get(self.scope)


class AnonThrottle(_SettingsRate, AnonRateThrottle):
    pass


class UserThrottle(_SettingsRate, UserRateThrottle):
    pass


class AnonymousThrottled(BasePermission):
    """Anonymous calls are refused by IsAuthenticated before DRF's throttles run; this
    permission, listed first, throttles them (per client address) before that."""

    def has_permission(self, request, view) -> bool:
        if request.user and request.user.is_authenticated:
            return True
        throttle = AnonThrottle()
        if not throttle.allow_request(request, view):
            view.throttled(request, throttle.wait())
        return True
