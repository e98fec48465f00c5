"""Typed provider errors. Each carries a message in words a person can act on."""

from typing import Any


class ProviderError(Exception):
    """Base class; ``status`` is the HTTP status when there was one. ``refresh`` (a
    ``records.Batch``) is what an action that was refused learned about its target on
    the way, e.g. that the build it was to cancel has already ended: stored like an
    ``ActionResult.refresh``, so the page stops showing the old state."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body: str = "",
        details: dict | None = None,
        refresh: Any = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body[:2000]
        self.details = details or {}
        self.refresh = refresh

    def __str__(self) -> str:
        return self.message


class AuthError(ProviderError):
    """The token was refused."""


class PermissionDenied(ProviderError):
    """The token is fine but may not do this (a 403, or Semaphore's 401 'Permission denied')."""


class NotFound(ProviderError):
    pass


class Rejected(ProviderError):
    """The provider refused the request as invalid or not allowed now (400/402/409/422)."""


class RateLimited(ProviderError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class Unavailable(ProviderError):
    """Network error, timeout or 5xx after the retries ran out."""


class BadResponse(ProviderError):
    """The provider answered something we cannot read (malformed JSON, wrong shape)."""


class BoundReached(ProviderError):
    """The sync or page view used up what it may spend (requests, time, pages): it stops,
    keeping what it read so far."""


class BudgetExhausted(BoundReached):
    pass


class DeadlineReached(BoundReached):
    pass


class RepeatedPage(BadResponse):
    """A listing answered the same page again, or never ended."""


# Errors about the whole connection rather than one item: they end a sync, where any
# other error only spoils the item it concerns.
CONNECTION_ERRORS = (AuthError, Unavailable, RateLimited, BoundReached)
