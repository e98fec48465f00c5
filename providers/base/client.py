"""The HTTP client every provider client builds on: httpx with timeouts, retries with
backoff on 5xx and timeouts, 429 ``Retry-After`` honoured, every attempt counted, and
typed errors. Provider clients add only auth, error bodies and their way of paging.

Every client works within bounds set by whoever made it (a sync, a page view): a
request ``budget``, a ``deadline`` (``time.monotonic()`` value) that also caps each
request's timeout, and a page bound with repeated-page detection for listings
(``paged``). A bound reached raises a ``BoundReached`` error, which ends the work and
keeps what was read. A ``Retry-After`` longer than ``max_retry_after`` is not slept
through in place: the ``RateLimited`` error goes up, and the sync engine moves the
connection's next sync instead of holding a worker slot.

Items that each need their own request (a build's jobs, a job's detail) may be read
``concurrently``: a few threads share the client's pooled connections, at most
``concurrency`` requests are in flight at once (the provider's rate limit is per token),
and every request still counts against the same budget and deadline. A client is safe
to share between threads."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlencode, urljoin

import httpx
import orjson
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from . import outbound, pool
from .errors import (
    AuthError,
    BadResponse,
    BudgetExhausted,
    DeadlineReached,
    NotFound,
    PermissionDenied,
    ProviderError,
    RateLimited,
    Rejected,
    RepeatedPage,
    Unavailable,
)

log = logging.getLogger(__name__)

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
T = TypeVar("T")
R = TypeVar("R")
# A path sent as it is written: httpx would send these characters unchanged.
_PLAIN_PATH = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=:@/-]|%[0-9A-Fa-f]{2})*")


class _PlainBase(NamedTuple):
    """What a GET to the connection's own address sends besides its path."""

    transport: outbound.PolicyTransport
    url: httpx.URL
    path: str
    headers: list[tuple[str, str]]


def _in_thread(fn: Callable[[T], R]) -> Callable[[T], R]:
    """``fn`` run in a helper thread, which gives back any database connection it opened
    (Django's connections are per thread; a reader should not need one)."""

    def run(item: T) -> R:
        try:
            return fn(item)
        finally:
            from django.db import connections

            connections.close_all()

    return run


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
    # Longer waits are not slept through: the caller is told, and tries again later.
    max_retry_after = 5.0
    # Pages a listing may take before it is cut short.
    max_pages = 200
    # Requests in flight at once when items are read ``concurrently``.
    concurrency = 4

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float | None = None,
        max_attempts: int | None = None,
        backoff: float | None = None,
        transport: httpx.BaseTransport | None = None,
        budget: int | None = None,
        deadline: float | None = None,
        max_retry_after: float | None = None,
        before_request: Callable[[], None] | None = None,
        concurrency: int | None = None,
        share_as: str | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.requests = 0
        self.rate_limited = 0
        self.max_attempts = max_attempts or self.max_attempts
        self.backoff = self.backoff if backoff is None else backoff
        self.timeout = timeout or self.timeout
        self.budget = budget
        self.deadline = deadline
        self.max_retry_after = self.max_retry_after if max_retry_after is None else max_retry_after
        # Called before every attempt made on the thread that made the client (the sync
        # renews its lease there); helper threads leave it to that thread.
        self.before_request = before_request
        self._owner = threading.get_ident()
        self.concurrency = max(int(concurrency or self.concurrency), 1)
        self._in_flight = threading.BoundedSemaphore(self.concurrency)
        self._counting = threading.Lock()
        # Per thread: the current request's last failure to reach the provider, if any.
        self._local = threading.local()
        # ``share_as`` (who uses it: a connection and a use) reuses the process's pooled
        # httpx client for this address and token; closing this client leaves it open.
        self.shared = share_as is not None and transport is None
        if self.shared:
            key = (type(self).__qualname__, share_as, self.base_url, self.timeout, pool.token_fingerprint(token or ""))
            self.http = pool.shared(key, lambda: self._make_http(None))
        else:
            self.http = self._make_http(transport)

    def _make_http(self, transport: httpx.BaseTransport | None) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            timeout=self.timeout,
            headers={"User-Agent": self.user_agent},
            transport=transport or outbound.transport(self.base_url),
            follow_redirects=False,
        )

    @property
    def _failing(self) -> Unavailable | None:
        return getattr(self._local, "failing", None)

    @_failing.setter
    def _failing(self, error: Unavailable | None) -> None:
        self._local.failing = error

    def close(self) -> None:
        if self.shared:
            pool.release(self.http)
        else:
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
        return self._with_retries(safe, lambda: self._send(method, path, kwargs))

    def _with_retries(self, safe: bool, attempt_once: Callable[[], T]) -> T:
        self._failing = None
        try:
            return attempt_once()
        except Exception as exc:
            failed = [exc]
        # Most requests succeed at once: the retry machinery is set up only after a
        # failure, and replays that failure as its first attempt, so what is retried,
        # when and how often is as if it had run from the start.

        def attempt() -> T:
            if failed:
                raise failed.pop()
            return attempt_once()

        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(lambda exc: self._retryable(exc, safe)),
            reraise=True,
        )
        return retrying(attempt)

    def remaining(self) -> float | None:
        """Seconds left before the deadline, or None without one."""
        return None if self.deadline is None else self.deadline - time.monotonic()

    def _check_bounds(self) -> float:
        """Count this attempt, or raise when the budget or the deadline is used up;
        return this attempt's timeout."""
        if self.before_request is not None and threading.get_ident() == self._owner:
            self.before_request()
        with self._counting:
            if self.budget is not None and self.requests >= self.budget:
                raise BudgetExhausted(f"Stopped after {self.requests} requests to the provider, the limit for one go.")
            self.requests += 1
        remaining = self.remaining()
        if remaining is not None and remaining <= 0.05:
            if self._failing is not None:
                # Out of time while the provider kept failing: that is the news.
                raise self._failing
            raise DeadlineReached("Stopped at its time limit; what was read so far is kept.")
        return self.timeout if remaining is None else min(self.timeout, remaining)

    def _send(self, method: str, path: str, kwargs: dict) -> httpx.Response:
        timeout = self._check_bounds()
        # kwargs is shared by every attempt: read it, never change it.
        headers = {**self.auth_headers(), **kwargs.get("headers", {})}
        stream = kwargs.get("stream", False)
        rest = {k: v for k, v in kwargs.items() if k not in ("headers", "stream", "expect_redirect")}
        rest.setdefault("timeout", timeout)
        try:
            with self._in_flight:
                if stream:  # the caller reads the body as it comes, and closes the response
                    request = self.http.build_request(method, self.url(path), headers=headers, **rest)
                    response = self.http.send(request, stream=True)
                else:
                    response = self.http.request(method, self.url(path), headers=headers, **rest)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        return self._answered(response, stream=stream, expect_redirect=bool(kwargs.get("expect_redirect")))

    def _unreachable(self, exc: httpx.HTTPError) -> Unavailable:
        """The provider could not be asked: remembered as this request's failure."""
        if isinstance(exc, httpx.TimeoutException):
            self._failing = Unavailable(f"The provider did not answer in time ({exc.__class__.__name__}).")
        elif isinstance(exc, httpx.ConnectError):
            self._failing = Unavailable(f"Cannot connect to {self.base_url}: {exc}", details={"connect": True})
        else:
            self._failing = Unavailable(f"Connection to {self.base_url} failed: {exc}")
        return self._failing

    def _answered(
        self, response: httpx.Response, *, stream: bool = False, expect_redirect: bool = False
    ) -> httpx.Response:
        """The response, or the error its status means."""
        if response.status_code >= 400:
            if stream:
                response.read()
                response.close()
            error = self.error_for(response)
            if isinstance(error, RateLimited):
                self.rate_limited += 1
            if isinstance(error, Unavailable):
                self._failing = error
            raise error
        if response.is_redirect and not expect_redirect:
            # Where a redirect points may be anywhere: it is never followed unasked.
            location = response.headers.get("location", "")[:200]
            response.close()
            raise BadResponse(f"Unexpected answer: the provider redirected to {location!r}; it was not followed.")
        return response

    def _retryable(self, exc: BaseException, safe: bool) -> bool:
        remaining = self.remaining()
        if isinstance(exc, RateLimited):
            wait = self.backoff if exc.retry_after is None else exc.retry_after
            return wait <= self.max_retry_after and (remaining is None or wait < remaining)
        if isinstance(exc, Unavailable):
            if remaining is not None and remaining <= self.backoff:
                return False
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

    def concurrently(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``[fn(item) for item in items]``, with up to ``concurrency`` running at once;
        the first error (in the items' order) is raised once the others have stopped."""
        items = list(items)
        if self.concurrency <= 1 or len(items) <= 1:
            return [fn(item) for item in items]
        if self.before_request is not None and threading.get_ident() == self._owner:
            self.before_request()
        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(items)), thread_name_prefix="provider")
        try:
            futures = [pool.submit(_in_thread(fn), item) for item in items]
            return [future.result() for future in futures]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

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
        target = self._plain_target(path, kwargs)
        if target is None:
            return self.parse_json(self.get(path, **kwargs))
        return self._with_retries(True, lambda: self._fetch_json(path, target))

    # A GET of JSON without httpx's client --------------------------------------------------
    # Most of a sync's requests are GETs of JSON from the connection's own address (a
    # build's jobs, a job's detail). httpx's client, request and URL objects cost more
    # CPU than the exchange itself (docs/performance.md), so these go to the transport
    # directly: the same policy checks, connections, headers, timeouts and errors, the
    # body decoded by httpx as before. Anything else (a stream, a body, other options,
    # an absolute URL, a path httpx would re-encode) takes the usual way.

    def _plain_target(self, path: str, kwargs: dict) -> str | None:
        """The request target (path and query) of a GET that may go to the transport
        directly, or None."""
        base = self._plain_base
        if base is None or (kwargs and kwargs.keys() != {"params"}) or path.startswith("http"):
            return None
        hooks = self.http.event_hooks
        if hooks["request"] or hooks["response"]:
            return None  # someone watches the client's requests (tests): they go through it
        if not _PLAIN_PATH.fullmatch(path) or "/." in f"/{path}":
            return None
        target = f"{base.path}/{path.lstrip('/')}"
        params = kwargs.get("params")
        if params:
            if not isinstance(params, dict) or not all(
                isinstance(k, str) and isinstance(v, str | int) and not isinstance(v, bool) for k, v in params.items()
            ):
                return None
            target += "?" + urlencode(params)  # as httpx encodes a query
        return target

    @functools.cached_property
    def _plain_base(self) -> _PlainBase | None:
        transport = pool.transport_of(self.http)
        if not isinstance(transport, outbound.PolicyTransport):
            return None  # a transport made by the caller (tests): httpx's client
        try:
            url = httpx.URL(self.base_url)
        except (httpx.InvalidURL, TypeError, ValueError):
            return None
        if url.userinfo or url.query or url.fragment or url.scheme not in ("http", "https"):
            return None
        # What httpx's client would send, in its order: Host, then the client's headers.
        defaults = [("Host", url.netloc.decode("ascii")), *((k.decode(), v.decode()) for k, v in self.http.headers.raw)]
        return _PlainBase(transport, url, url.raw_path.decode("ascii").rstrip("/"), defaults)

    def _fetch_json(self, path: str, target: str) -> Any:
        timeout = self._check_bounds()
        base = self._plain_base
        extra = self.auth_headers()
        names = {name.lower() for name in extra}
        headers = [(k, v) for k, v in base.headers if k.lower() not in names] + list(extra.items())
        timeouts = dict.fromkeys(("connect", "read", "write", "pool"), timeout)
        try:
            with self._in_flight:
                status, answer_headers, body = base.transport.fetch_on(base.url, "GET", target, headers, timeouts)
            if status < 300 and not any(name.lower() == "content-encoding" for name, _ in answer_headers):
                return self._json_of(body, lambda: httpx.Response(status, headers=answer_headers, content=body))
            response = httpx.Response(status, headers=answer_headers, stream=httpx.ByteStream(body))
            response.read()  # decoded as httpx decodes (gzip and the rest)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        if status >= 300:  # an error or a redirect: what the usual way makes of it
            response.request = httpx.Request("GET", self.url(path), headers=headers)
            self._answered(response)
        return self._json_of(response.content, lambda: response)

    def _json_of(self, body: bytes, response: Callable[[], httpx.Response]) -> Any:
        """The JSON a body holds. A body sent as it is (no content encoding) is read
        without an httpx response, which is made only to say what was wrong."""
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            return self.parse_json(response())  # the standard library's reading, and its words

    def read_ahead_each(self, fn: Callable[[T], R], items: Iterable[T]) -> list[Callable[[], R]]:
        """``fn(item)`` for every item, up to ``concurrency`` at once, each given back as a
        call that answers it or raises what it raised: an error lands where reading the
        items in turn would have raised it."""

        def outcome(item: T) -> tuple[R | None, Exception | None]:
            try:
                return fn(item), None
            except Exception as exc:  # raised when this item's answer is taken
                return None, exc

        def answer(value: R | None, error: Exception | None) -> Callable[[], R]:
            def take() -> R:
                if error is not None:
                    raise error
                return value  # type: ignore[return-value]

            return take

        return [answer(*each) for each in self.concurrently(outcome, list(items))]

    def first_pages_together(self, listings: list[Iterator[T]]) -> list[Iterator[T]]:
        """The listings (``paged`` iterators, not started), each with its first page read
        already (``read_ahead_each``); the rest is read as each is followed."""
        end = object()

        def resumed(listing: Iterator[T], first: Callable[[], Any]) -> Iterator[T]:
            page = first()
            if page is not end:
                yield page
                yield from listing

        firsts = self.read_ahead_each(lambda listing: next(listing, end), listings)
        return [resumed(*pair) for pair in zip(listings, firsts, strict=True)]

    def paged(
        self,
        fetch: Callable[[Any], tuple[list, Any]],
        *,
        what: str,
        start: Any = None,
        max_pages: int | None = None,
    ) -> Iterator[tuple[list, Any]]:
        """Follow a listing page by page: ``fetch(position)`` answers ``(items, next
        position or None)``, the first page at ``start``. Yields each page with the
        position of the next. A page that repeats one already seen, a position seen
        before, or more than ``max_pages`` pages raise ``RepeatedPage``: a listing that
        never ends is the provider's fault, and must neither loop nor count as complete."""
        limit = max_pages or self.max_pages
        seen_pages: set[str] = set()
        seen_positions: set[str] = set()
        position = start
        for _ in range(limit):
            items, following = fetch(position)
            digest = hashlib.md5(
                json.dumps(items, sort_keys=True, default=str).encode(), usedforsecurity=False
            ).hexdigest()
            if items and digest in seen_pages:
                raise RepeatedPage(f"The provider sent the same page of {what} twice; the listing was stopped there.")
            seen_pages.add(digest)
            key = json.dumps(following, sort_keys=True, default=str)
            if following is not None and key in seen_positions:
                raise RepeatedPage(f"The provider's list of {what} pointed back to a page already read.")
            seen_positions.add(key)
            yield items, following
            if following is None or not items:
                return
            position = following
        raise RepeatedPage(f"The provider's list of {what} did not end after {limit} pages; it was cut short.")

    def expect(self, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
        """Check the shape of a part of an answer, naming what was wrong."""
        if not isinstance(value, kind):
            raise BadResponse(f"Unexpected answer: {what} is {type(value).__name__}, not the documented shape.")
        return value
