"""Where the dashboard may connect: the one place that decides, for every request to a
provider (docs/security.md, "Outbound policy").

- Schemes: http and https only. URLs never carry credentials (``user:pass@``): the
  token goes in the connection's token field, which is encrypted and never shown.
- Addresses: link-local (169.254.0.0/16, fe80::/10) and cloud metadata addresses are
  refused always, and so are multicast, reserved and other non-routable ranges.
  Private ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) are allowed only
  with ``OUTBOUND_ALLOW_PRIVATE``; loopback (127/8, ::1, 0.0.0.0) only with
  ``OUTBOUND_ALLOW_LOOPBACK`` (on when ``DEBUG`` is, in ``manage.py demo`` and in the
  tests, whose simulators listen on 127.0.0.1).
- Host names are resolved when the connection is opened and *every* address is
  checked; the socket then connects to one of exactly those addresses. A name that
  resolves to an allowed address when checked and to a refused one when used (DNS
  rebinding) therefore never reaches the refused one. TLS still verifies the name.
- A provider client talks only to its connection's origin (scheme, host, port): an
  absolute URL in an answer cannot send the token elsewhere. A redirect is followed
  only by ``follow_redirect``: to the same origin, or to origins the provider's adapter
  lists (e.g. Semaphore's log storage), without the token.
- Requests go straight to the provider: ``HTTP(S)_PROXY`` are not used, since the
  address checked must be the address connected to.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import socket
import ssl
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from . import http11
from .errors import ProviderError, Unavailable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services outside the link-local range, refused whatever the settings.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack...
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
    )
)
PRIVATE = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
THIS_HOST = (ipaddress.ip_network("0.0.0.0/8"), ipaddress.ip_network("::/128"))
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 3


class OutboundRefused(ProviderError):
    """The outbound policy does not allow this address or URL. Nothing was sent. Raised
    as it is for a URL a provider handed us (a redirect, an absolute link): a problem of
    that one item."""

    def __init__(self, reason: str):
        super().__init__(f"Refused by the outbound policy: {reason}")
        self.reason = reason


class PolicyUnreachable(OutboundRefused, Unavailable):
    """The connection's own address is refused: the provider is unreachable, by policy."""


class Unresolvable(OSError):
    """A host name that does not resolve here (a connection error: nothing was sent)."""


class RedirectFailed(ProviderError):
    """A provider's redirect target could not be fetched (a problem of that one item)."""


@dataclass(frozen=True)
class Policy:
    allow_private: bool = False
    allow_loopback: bool = False

    @classmethod
    def current(cls) -> Policy:
        from django.conf import settings

        return cls(
            allow_private=bool(getattr(settings, "OUTBOUND_ALLOW_PRIVATE", False)),
            allow_loopback=bool(getattr(settings, "OUTBOUND_ALLOW_LOOPBACK", False)),
        )


def _unwrapped(address: IPAddress) -> IPAddress:
    """The IPv4 address inside an IPv4-mapped, 6to4 or NAT64 IPv6 address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return address.ipv4_mapped
        if address.sixtofour:
            return address.sixtofour
        if address in ipaddress.ip_network("64:ff9b::/96"):
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def check_address(address: str | IPAddress, policy: Policy | None = None) -> None:
    """Raise OutboundRefused unless the policy allows connecting to ``address``."""
    policy = policy or Policy.current()
    ip = ipaddress.ip_address(address.split("%")[0] if isinstance(address, str) else address)
    ip = _unwrapped(ip)
    if ip in METADATA or ip.is_link_local:
        raise OutboundRefused(f"{ip} is a link-local or cloud metadata address")
    if ip.is_loopback or any(ip in net for net in THIS_HOST):
        if not policy.allow_loopback:
            raise OutboundRefused(f"{ip} is this machine (loopback); set OUTBOUND_ALLOW_LOOPBACK=true to allow it")
        return
    if ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        raise OutboundRefused(f"{ip} is not a unicast address")
    if any(ip in net for net in PRIVATE if net.version == ip.version):
        if not policy.allow_private:
            raise OutboundRefused(f"{ip} is a private address; set OUTBOUND_ALLOW_PRIVATE=true to allow it")
        return
    if not ip.is_global:
        raise OutboundRefused(f"{ip} is not a public address")


@functools.lru_cache(maxsize=1024)
def _address_allowed(address: str, policy: Policy) -> bool:
    """``check_address`` for a resolved address, remembered when allowed (a connection
    opened per request would otherwise parse and classify the same address each time)."""
    check_address(address, policy)
    return True


def check_url(url: str | httpx.URL, policy: Policy | None = None) -> None:
    """Scheme, credentials and (for an address written in the URL) the address."""
    parts = urlsplit(str(url))
    if parts.scheme.lower() not in ("http", "https"):
        raise OutboundRefused(f"only http and https URLs are allowed, not {parts.scheme or 'a relative URL'!r}")
    if "@" in parts.netloc:
        raise OutboundRefused("URLs must not carry a user name or password; the token field holds the credentials")
    host = parts.hostname
    if not host:
        raise OutboundRefused("the URL has no host")
    try:
        literal = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return  # a name: checked with every address it resolves to, when connecting
    check_address(literal, policy)


def resolve(host: str, port: int, policy: Policy | None = None) -> list[str]:
    """Every address ``host`` resolves to, all of them allowed, or OutboundRefused."""
    policy = policy or Policy.current()
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolvable(f"cannot resolve {host}: {exc}") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        try:
            _address_allowed(address, policy)
        except OutboundRefused as exc:
            raise OutboundRefused(f"{host} resolves to {exc.reason}") from None
    return addresses


def origin(url: str | httpx.URL) -> tuple[str, str, int]:
    """(scheme, host, port) with the scheme's default port filled in."""
    parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)  # an httpx.URL is parsed already
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return parsed.scheme, parsed.host.lower(), port


def _origin_allowed(url: str | httpx.URL, patterns: Iterable[str]) -> bool:
    """Whether ``url``'s origin is one of ``patterns``: "https://host[:port]", where the
    host may start with "*." for any subdomain (a documented provider storage)."""
    scheme, host, port = origin(url)
    for pattern in patterns:
        p_scheme, p_host, p_port = origin(pattern.replace("*.", "wildcard.", 1))
        if (p_scheme, p_port) != (scheme, port):
            continue
        if pattern.split("://", 1)[-1].startswith("*."):
            suffix = p_host[len("wildcard") :]
            if host.endswith(suffix) and len(host) > len(suffix):
                return True
        elif host == p_host:
            return True
    return False


# The transport -----------------------------------------------------------------------------
def open_socket(host: str, port: int, timeout: float | None) -> socket.socket:
    """A TCP connection to one of the addresses ``host`` resolves to now, each of them
    checked first (``resolve``): the address connected to is one that was checked."""
    last: OSError | None = None
    for address in resolve(host, port):
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as exc:
            last = exc
    raise last or OSError(f"cannot connect to {host}")


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """One TLS context (certificate store loaded once) for every provider client of the
    process: making one costs ~25 ms and a few hundred KB, per client otherwise."""
    return httpx.create_ssl_context()


class PolicyTransport(http11.Http11Transport):
    """An httpx transport that applies the policy to every request and connection; with
    ``origin_of``, only requests to that URL's origin are sent."""

    def __init__(self, *, origin_of: str | None = None, ssl_context: ssl.SSLContext | None = None):
        super().__init__(open_socket, ssl_context or shared_ssl_context())
        self.origin = None
        self._allowed: set[tuple] = set()
        # A URL that does not parse locks nothing: check_url refuses it when it is used.
        with contextlib.suppress(httpx.InvalidURL, TypeError, ValueError):
            self.origin = origin(origin_of) if origin_of else None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._keep_to_origin(request.url)
        with self._refusals():
            self._check(request.url)
            return super().handle_request(request)

    def fetch_on(
        self, url: httpx.URL, method: str, target: str, headers: http11.Headers, timeouts: dict
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """``fetch`` of ``target`` (a path and query) on ``url``'s origin, allowed as
        ``handle_request`` allows a request to ``url``."""
        self._keep_to_origin(url)
        with self._refusals():
            self._check(url)
            return self.fetch(origin(url), method, target, headers, timeouts)

    def _keep_to_origin(self, url: httpx.URL) -> None:
        here = origin(url)
        if self.origin is not None and here != self.origin:
            scheme, host, port = here
            raise OutboundRefused(f"{scheme}://{host}:{port} is not this connection's address")

    @contextlib.contextmanager
    def _refusals(self) -> Iterator[None]:
        """The policy refusing the address of a transport locked to a connection's
        address: that connection is unreachable (its address is not allowed now)."""
        try:
            yield
        except OutboundRefused as exc:
            if self.origin is None:
                raise
            raise PolicyUnreachable(exc.reason) from None

    def _check(self, url: httpx.URL) -> None:
        """``check_url``, once per scheme, user info and host under the current policy: a
        sync sends thousands of requests to one origin, and the answer depends on nothing
        else. Refusals are not remembered (each one raises again)."""
        key = (url.scheme, url.userinfo, url.host, Policy.current())
        if key in self._allowed:
            return
        check_url(url, key[3])
        if len(self._allowed) >= 64:
            self._allowed.clear()
        self._allowed.add(key)


def transport(base_url: str | None = None) -> PolicyTransport:
    """The transport for a provider client: the policy, locked to ``base_url``'s origin."""
    return PolicyTransport(origin_of=base_url)


def follow_redirect(client: Any, location: str, allowed_origins: Iterable[str] = ()) -> httpx.Response:
    """GET a provider's redirect target: on the connection's own origin with its client
    (and token), or on one of ``allowed_origins`` (a provider's documented storage, e.g.
    ``("https://*.s3.amazonaws.com",)``) with a fresh client and no token. Anything else
    is refused before a byte is sent. Further redirects are followed the same way, up to
    MAX_REDIRECTS. ``client`` is a providers.base.client.BaseClient. Every error is a
    ProviderError about this one item (OutboundRefused, RedirectFailed, or the client's
    error for the target's error answer), never one that ends a sync; the body is read."""
    allowed_origins = tuple(allowed_origins)
    url = urljoin(client.base_url + "/", location)
    for _ in range(MAX_REDIRECTS + 1):
        check_url(url)
        same = origin(url) == origin(client.base_url)
        if not same and not _origin_allowed(url, allowed_origins):
            scheme, host, port = origin(url)
            raise OutboundRefused(f"a redirect to {scheme}://{host}:{port}, which is not the connection's address")
        with client._counting:  # counted as the client counts, from any thread
            client.requests += 1
        try:
            if same:
                response = client.http.get(url, headers=client.auth_headers())
            else:
                with httpx.Client(transport=PolicyTransport(), timeout=client.http.timeout) as storage:
                    response = storage.get(url, headers={"User-Agent": client.user_agent})
                    response.read()
        except OutboundRefused as exc:
            raise OutboundRefused(exc.reason) from None  # about this item, not the connection
        except httpx.TimeoutException as exc:
            what = exc.__class__.__name__
            raise RedirectFailed(f"The provider's redirect target did not answer in time ({what}).") from exc
        except httpx.HTTPError as exc:
            raise RedirectFailed(f"Cannot fetch the provider's redirect target: {exc}") from exc
        if response.status_code in REDIRECTS and response.headers.get("location"):
            url = urljoin(str(response.url), response.headers["location"])
            continue
        if response.status_code >= 400:
            raise client.error_for(response)
        return response
    raise ProviderError(f"The provider redirected more than {MAX_REDIRECTS} times.")


def check_base_url(url: str, policy: Policy | None = None) -> None:
    """For the connection form: the URL's scheme and credentials, and every address its
    host resolves to now (a name that does not resolve here is left to the sync, which
    says it is unreachable)."""
    check_url(url, policy)
    try:
        _, host, port = origin(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise OutboundRefused(f"the URL cannot be read ({exc})") from exc
    with contextlib.suppress(Unresolvable):
        resolve(host, port, policy)
