"""What every provider simulator shares: a WSGI app on loopback, a clock that tests can
move by hand, deterministic randomness from a seed, scale knobs and fault injection.

A provider's simulator subclasses ``Simulator``, lists its routes and answers them the
way the provider does (paths, bodies, enums, paging, error bodies)."""

from __future__ import annotations

import collections
import logging
import random
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from . import serving

log = logging.getLogger(__name__)

# Not part of any provider's API: the simulator's own record of when builds arrived and
# finished (``Simulator.events``), for the freshness benchmark.
EVENTS_PATH = "/_sim/events"


def _parse_knobs(cls, text: str | None, aliases: dict[str, str] | None = None):
    """``"a=1,b=0.5"`` -> ``cls(a=1, b=0.5)``; unknown names are an error, not ignored."""
    values: dict[str, Any] = {}
    names = {f.name: f.type for f in fields(cls)}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        key, _, raw = part.partition("=")
        key = (aliases or {}).get(key.strip(), key.strip())
        if key not in names:
            raise ValueError(f"unknown knob {key!r}; known: {', '.join(names)}")
        kind = names[key]
        values[key] = raw.strip() if kind in ("str", str) else float(raw) if kind in ("float", float) else int(raw)
    return cls(**values)


@dataclass
class Faults:
    """Probabilities (0..1) of each fault per request, and their parameters.

    Generic faults are applied here to any answer; the ones that need to know the API
    (which list a page holds, which endpoints read one item, how paging works) are
    applied by each simulator where it builds that answer, through the helpers below
    (``odd_enum``, ``listing``, ``detail_missing``, ``page_repeats``, ``pages_endless``)."""

    error_rate: float = 0.0  # a 500/502/503 answer
    rate_limit_rate: float = 0.0  # a 429 with Retry-After
    retry_after: float = 1.0
    latency: float = 0.0  # seconds added to every answer
    timeout_rate: float = 0.0  # hang for timeout_seconds before answering
    timeout_seconds: float = 30.0
    malformed_rate: float = 0.0  # a 200 whose body is cut short (not JSON)
    unknown_enum_rate: float = 0.0  # states replaced by a value the docs do not list
    missing_key_rate: float = 0.0  # a listing answered without its list's key
    empty_list_rate: float = 0.0  # a listing answered with an empty list
    not_found_rate: float = 0.0  # an item's own endpoint answers 404 (a burst, when 1.0)
    repeated_page_rate: float = 0.0  # a paged listing answers the same page again
    endless_pages: float = 0.0  # 1.0: a paged listing always says there is more
    redirect_rate: float = 0.0  # a 302 to ``redirect_to`` (an address nobody answers)
    redirect_to: str = "http://127.0.0.1:9/unreachable"
    auth_fail_rate: float = 0.0  # the token is refused, as if revoked

    ALIASES: ClassVar[dict[str, str]] = {
        "5xx": "error_rate",
        "429": "rate_limit_rate",
        "timeout": "timeout_rate",
        "hang": "timeout_rate",
        "malformed": "malformed_rate",
        "truncated": "malformed_rate",
        "unknown_enum": "unknown_enum_rate",
        "missing_key": "missing_key_rate",
        "empty_list": "empty_list_rate",
        "404": "not_found_rate",
        "repeated_page": "repeated_page_rate",
        "endless": "endless_pages",
        "redirect": "redirect_rate",
        "bad_token": "auth_fail_rate",
    }

    @classmethod
    def parse(cls, text: str | None) -> Faults:
        return _parse_knobs(cls, text, cls.ALIASES)


@dataclass
class Scale:
    projects: int = 2
    builds: int = 12  # history per project at start
    jobs: int = 4  # jobs per build, roughly
    arrival_every: int = 30  # seconds between new builds per project (0 = none)

    @classmethod
    def parse(cls, text: str | None) -> Scale:
        return _parse_knobs(cls, text)


class Clock:
    """Wall-clock time, or (``manual=True``) time that moves only when told to."""

    def __init__(self, start: float | None = None, manual: bool = False):
        self.manual = manual
        self._offset = 0.0
        self._start = start if start is not None else time.time()
        self._real_start = time.time()

    def now(self) -> float:
        if self.manual:
            return self._start + self._offset
        return self._start + (time.time() - self._real_start) + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds


@dataclass
class RequestRecord:
    method: str
    path: str
    query: str
    status: int = 0
    at: float = field(default_factory=time.monotonic)


class Simulator:
    kind: ClassVar[str] = ""

    def __init__(
        self,
        token: str,
        *,
        seed: int = 0,
        scale: Scale | None = None,
        faults: Faults | None = None,
        clock: Clock | None = None,
    ):
        self.token = token
        self.seed = seed
        self.scale = scale or Scale()
        self.faults = faults or Faults()
        self.clock = clock or Clock()
        self.lock = threading.RLock()
        self._fault_rng = random.Random(f"{seed}:faults")
        self.requests: list[RequestRecord] = []
        # How often each fault was applied, by the Faults field's name.
        self.applied: collections.Counter[str] = collections.Counter()
        # Answers forced on the next requests, oldest first: an HTTP status ("503"), or
        # "429:<seconds>" for a rate limit with that Retry-After.
        self.scripted: collections.deque[str] = collections.deque()
        self.url_map = Map(self.routes(), strict_slashes=False)
        self._server = None
        self._thread: threading.Thread | None = None

    # Provider hooks -----------------------------------------------------------------
    def routes(self) -> list[Rule]:
        raise NotImplementedError

    def authenticate(self, request: Request) -> Response | None:
        """Return the provider's refusal, or None when the request may proceed."""
        raise NotImplementedError

    def connection_options(self) -> dict:
        """What a Connection to this simulator needs in its ``options`` (e.g. ids that
        the provider cannot be asked for)."""
        return {}

    def not_found(self, request: Request) -> Response:
        return Response("Not Found", status=404, mimetype="text/plain")

    def refused(self, request: Request) -> Response:
        """The provider's answer to a token it no longer accepts (for ``auth_fail_rate``)."""
        return Response("Unauthorized", status=401, mimetype="text/plain")

    def truth(self) -> dict[str, dict[str, str]]:
        """What the provider holds now, as the dashboard should show it once synced:
        ``{"builds": {external id: neutral state}, "jobs": {external id: neutral
        state}}``. The fault tests compare the database with it."""
        raise NotImplementedError

    def events(self) -> list[dict] | None:
        """When each build arrived and finished (epoch seconds; ``finished`` None while it
        has not), for measuring how soon the dashboard shows them; None when this
        simulator does not say. Read-only, at ``EVENTS_PATH``, outside the provider's API."""
        return None

    def server_error(self, status: int) -> Response:
        return Response("Internal error", status=status, mimetype="text/plain")

    def rate_limited(self, retry_after: float) -> Response:
        return Response(
            "Too Many Requests",
            status=429,
            mimetype="text/plain",
            headers={"Retry-After": str(int(retry_after) if retry_after >= 1 else retry_after)},
        )

    # Helpers ------------------------------------------------------------------------
    def rng(self, *parts: object) -> random.Random:
        """A generator that depends only on the seed and ``parts``: the same world on
        every run, whatever order things are asked in."""
        return random.Random(":".join(str(p) for p in (self.seed, *parts)))

    def uuid(self, *parts: object) -> str:
        return str(uuid.UUID(int=self.rng("uuid", *parts).getrandbits(128), version=4))

    def now(self) -> float:
        return self.clock.now()

    def chance(self, rate: float, name: str = "") -> bool:
        hit = rate > 0 and self._fault_rng.random() < rate
        if hit and name:
            self.applied[name] += 1
        return hit

    def answer_next(self, *answers: str) -> None:
        """Force the next requests' answers: ``sim.answer_next("503", "429:2")``."""
        with self.lock:
            self.scripted.extend(answers)

    def odd_enum(self, value: str, odd: str = "SOMETHING_NEW") -> str:
        """With the unknown-enum fault on, sometimes answer a value the docs never listed."""
        return odd if self.chance(self.faults.unknown_enum_rate, "unknown_enum_rate") else value

    def listing(self, body: Any, key: str | None = None) -> Any:
        """A listing's answer, as the faults would spoil it: without the list's ``key``
        (a dict answer), or with the list emptied. ``key`` None: the body is the list."""
        if key is not None and isinstance(body, dict) and self.chance(self.faults.missing_key_rate, "missing_key_rate"):
            return {k: v for k, v in body.items() if k != key}
        if self.chance(self.faults.empty_list_rate, "empty_list_rate"):
            if key is None:
                return []
            if isinstance(body, dict):
                return {**body, key: []}
        return body

    def detail_missing(self) -> bool:
        """An item's own endpoint should answer 404 this time (the provider's own 404)."""
        return self.chance(self.faults.not_found_rate, "not_found_rate")

    def page_repeats(self) -> bool:
        """A paged listing should answer the page before again."""
        return self.chance(self.faults.repeated_page_rate, "repeated_page_rate")

    def pages_endless(self) -> bool:
        """A paged listing should say there is more, whatever it holds."""
        return self.chance(self.faults.endless_pages, "endless_pages")

    def json(self, body: Any, status: int = 200, headers: dict | None = None) -> Response:
        import json

        return Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")

    # WSGI ------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        request = Request(environ)
        record = RequestRecord(request.method, request.path, request.query_string.decode())
        response = self._respond(request)
        record.status = response.status_code
        with self.lock:
            self.requests.append(record)
        return response(environ, start_response)

    def _scripted(self) -> Response | None:
        with self.lock:
            answer = self.scripted.popleft() if self.scripted else None
        if answer is None:
            return None
        status, _, wait = answer.partition(":")
        if status == "429":
            return self.rate_limited(float(wait or 1))
        return self.server_error(int(status))

    def _respond(self, request: Request) -> Response:
        if request.path == EVENTS_PATH and request.method == "GET":
            events = self.events()
            return self.not_found(request) if events is None else self.json(events)
        faults = self.faults
        forced = self._scripted()
        if forced is not None:
            return forced
        if faults.latency:
            time.sleep(faults.latency)
        if self.chance(faults.timeout_rate, "timeout_rate"):
            time.sleep(faults.timeout_seconds)
        if self.chance(faults.error_rate, "error_rate"):
            return self.server_error(self._fault_rng.choice([500, 502, 503]))
        if self.chance(faults.rate_limit_rate, "rate_limit_rate"):
            return self.rate_limited(faults.retry_after)
        if self.chance(faults.redirect_rate, "redirect_rate"):
            return Response("", status=302, headers={"Location": faults.redirect_to})
        if self.chance(faults.auth_fail_rate, "auth_fail_rate"):
            return self.refused(request)
        refusal = self.authenticate(request)
        if refusal is not None:
            return refusal
        try:
            endpoint, args = self.url_map.bind_to_environ(request.environ).match()
        except MethodNotAllowed:
            return Response("", status=405)
        except NotFound:
            return self.not_found(request)
        except HTTPException as exc:
            return Response(exc.description or "", status=exc.code or 400)
        with self.lock:
            response = getattr(self, endpoint)(request, **args)
        if (
            response.status_code == 200
            and response.mimetype == "application/json"
            and self.chance(faults.malformed_rate, "malformed_rate")
        ):
            body = response.get_data()
            return Response(body[: max(len(body) // 2, 1)], status=200, mimetype="application/json")
        return response

    # Serving ------------------------------------------------------------------------
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Simulator:
        """Start serving in a background thread; ``self.url`` says where."""
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request is noise
        self._server = serving.serve(self, host, port)
        # A short poll interval makes stop() quick, which adds up over hundreds of tests.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"sim-{self.kind}", daemon=True
        )
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None, "not serving"
        return f"http://{self._server.host}:{self._server.server_port}"

    @property
    def port(self) -> int:
        assert self._server is not None, "not serving"
        return self._server.server_port

    @property
    def connections(self) -> tuple[int, int]:
        """(TCP connections opened so far, still open)."""
        assert self._server is not None, "not serving"
        return self._server.connections_opened, len(self._server.open_connections)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            serving.close_connections(self._server)
            self._server = None

    @contextmanager
    def stop_after(self):
        """``with sim.stop_after():`` serves for the block only."""
        try:
            yield self
        finally:
            self.stop()

    def count(self, path_prefix: str = "", method: str | None = None) -> int:
        with self.lock:
            return sum(
                1 for r in self.requests if r.path.startswith(path_prefix) and (method is None or r.method == method)
            )


__all__ = ["EVENTS_PATH", "Clock", "Faults", "Scale", "Simulator"]
