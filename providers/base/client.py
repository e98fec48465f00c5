"""The HTTP client every provider client builds on: httpx with timeouts, retries with
backoff on 5xx and timeouts, 429 ``Retry-After`` honoured, every attempt counted, and
typed errors. Provider clients add only auth, error bodies and their way of paging."""

from __future__ import annotations

import json
import logging
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from . import outbound
from .errors import (
    AuthError,
    BadResponse,
    NotFound,
    PermissionDenied,
    ProviderError,
    RateLimited,
    Rejected,
    Unavailable,
)

log = logging.getLogger(__name__)

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` is either seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        from datetime import UTC, datetime

        return max((parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds(), 0.0)
    except (TypeError, ValueError):
        return None


class BaseClient:
    user_agent = "ci-dashboard/0.1"
    timeout = 15.0
    max_attempts = 4
    backoff = 0.5
    # Longer waits are not slept through: the sync ends and the next one tries again.
    max_retry_after = 30.0

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float | None = None,
        max_attempts: int | None = None,
        backoff: float | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.requests = 0
        self.max_attempts = max_attempts or self.max_attempts
        self.backoff = self.backoff if backoff is None else backoff
        self.http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout or self.timeout,
            headers={"User-Agent": self.user_agent},
            transport=transport or outbound.transport(self.base_url),
            follow_redirects=False,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # Provider hooks -------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        return {}

    def error_message(self, response: httpx.Response) -> str:
        """The provider's own words for an error answer; providers override."""
        text = response.text.strip()
        try:
            body = json.loads(text)
        except ValueError:
            return text[:300] or response.reason_phrase
        if isinstance(body, str):
            return body
        if isinstance(body, dict):
            for key in ("message", "error", "detail"):
                if isinstance(body.get(key), str):
                    return body[key]
        return text[:300]

    def error_for(self, response: httpx.Response) -> ProviderError:
        status = response.status_code
        message = self.error_message(response)
        kw = {"status": status, "body": response.text}
        if status == 401:
            return AuthError(f"The provider refused the token: {message}", **kw)
        if status == 403:
            return PermissionDenied(f"Not allowed: {message}", **kw)
        if status == 404:
            return NotFound(f"Not found: {message}", **kw)
        if status == 429:
            return RateLimited(
                f"Rate limited: {message}", retry_after=retry_after_seconds(response.headers.get("Retry-After")), **kw
            )
        if status >= 500:
            return Unavailable(f"The provider failed ({status}): {message}", **kw)
        return Rejected(message, **kw)

    # Requests ---------------------------------------------------------------------
    def url(self, path: str) -> str:
        return path if path.startswith("http") else urljoin(self.base_url + "/", path.lstrip("/"))

    def request(self, method: str, path: str, *, idempotent: bool | None = None, **kwargs: Any) -> httpx.Response:
        """Send one logical request, retrying what is safe to retry."""
        method = method.upper()
        safe = method in IDEMPOTENT if idempotent is None else idempotent
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(lambda exc: self._retryable(exc, safe)),
            reraise=True,
        )
        return retrying(self._send, method, path, kwargs)

    def _send(self, method: str, path: str, kwargs: dict) -> httpx.Response:
        self.requests += 1
        # kwargs is shared by every attempt: read it, never change it.
        headers = {**self.auth_headers(), **kwargs.get("headers", {})}
        stream = kwargs.get("stream", False)
        rest = {k: v for k, v in kwargs.items() if k not in ("headers", "stream")}
        try:
            if stream:  # the caller reads the body as it comes, and closes the response
                request = self.http.build_request(method, self.url(path), headers=headers, **rest)
                response = self.http.send(request, stream=True)
            else:
                response = self.http.request(method, self.url(path), headers=headers, **rest)
        except httpx.TimeoutException as exc:
            raise Unavailable(f"The provider did not answer in time ({exc.__class__.__name__}).") from exc
        except httpx.ConnectError as exc:
            raise Unavailable(f"Cannot connect to {self.base_url}: {exc}", details={"connect": True}) from exc
        except httpx.HTTPError as exc:
            raise Unavailable(f"Connection to {self.base_url} failed: {exc}") from exc
        if response.status_code >= 400:
            if stream:
                response.read()
                response.close()
            raise self.error_for(response)
        return response

    def _retryable(self, exc: BaseException, safe: bool) -> bool:
        if isinstance(exc, RateLimited):
            return exc.retry_after is None or exc.retry_after <= self.max_retry_after
        if isinstance(exc, Unavailable):
            # A request that never reached the server may be sent again even when not idempotent.
            return safe or bool(exc.details.get("connect"))
        return False

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return exc.retry_after
        return wait_exponential_jitter(multiplier=self.backoff, max=8 * max(self.backoff, 0.01), jitter=self.backoff)(
            state
        )

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def parse_json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except (ValueError, UnicodeDecodeError) as exc:
            snippet = response.text[:120].replace("\n", " ")
            raise BadResponse(
                f"The provider sent a body that is not JSON: {snippet!r}",
                status=response.status_code,
                body=response.text,
            ) from exc

    def get_json(self, path: str, **kwargs: Any) -> Any:
        return self.parse_json(self.get(path, **kwargs))

    def expect(self, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
        """Check the shape of a part of an answer, naming what was wrong."""
        if not isinstance(value, kind):
            raise BadResponse(f"Unexpected answer: {what} is {type(value).__name__}, not the documented shape.")
        return value
