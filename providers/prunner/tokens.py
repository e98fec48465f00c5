"""prunner's JWTs: HS256 with the shared secret. ``mint`` is what our client sends;
``verify`` is what go-chi/jwtauth v5.3.3 (over lestrrat-go/jwx v2) answers, for the
simulator. See docs/providers/prunner.md, "Authentication".

prunner accepts secrets from 16 characters, shorter than PyJWT's recommended 32 bytes
for HS256; the secret is the prunner operator's choice, so that warning is silenced."""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Iterator
from typing import Any

import jwt

ALGORITHM = "HS256"

NO_TOKEN = "no token found"
UNAUTHORIZED = "token is unauthorized"
EXPIRED = "token is expired"
NBF_INVALID = "token nbf validation failed"
IAT_INVALID = "token iat validation failed"


@contextlib.contextmanager
def _quiet(secret: str) -> Iterator[None]:
    if len(secret.encode()) >= 64:  # long enough for every HMAC size
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        yield


def mint(secret: str, subject: str, ttl: int = 60, now: float | None = None) -> str:
    """A fresh token for one request: ``sub`` names who acts, ``exp`` is ``ttl`` ahead.
    No ``iat``: prunner refuses a token issued "in the future" by its own clock, so a
    dashboard whose clock runs a second ahead would be refused every call."""
    issued = int(now if now is not None else time.time())
    with _quiet(secret):
        return jwt.encode({"sub": subject, "exp": issued + ttl}, secret, algorithm=ALGORITHM)


def encode(secret: str, claims: dict[str, Any], algorithm: str = ALGORITHM) -> str:
    """Any token, for tests and for ``prunner debug``-like tokens (``{"iat": now}``)."""
    with _quiet(secret):
        return jwt.encode(claims, secret, algorithm=algorithm)


def from_request(authorization: str, cookie: str | None) -> str:
    """jwtauth's lookup: ``Authorization`` when its first six letters say "bearer" in any
    case (the seventh character is skipped unseen), else the ``jwt`` cookie."""
    if len(authorization) > 7 and authorization[:6].upper() == "BEARER":
        return authorization[7:]
    return cookie or ""


def verify(token: str, secret: str, now: float) -> tuple[dict[str, Any] | None, str]:
    """(claims, "") or (None, jwtauth's error text). Time claims are checked only when
    present, against whole seconds, without leeway: iat, then exp, then nbf."""
    if not token:
        return None, NO_TOKEN
    try:
        if jwt.get_unverified_header(token).get("alg") != ALGORITHM:
            return None, UNAUTHORIZED
        with _quiet(secret):
            claims = jwt.decode(
                token,
                secret,
                algorithms=[ALGORITHM],
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False},
            )
    except jwt.InvalidTokenError:
        return None, UNAUTHORIZED
    second = int(now)
    times = {}
    for name in ("iat", "exp", "nbf"):
        if name in claims:
            value = claims[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return None, UNAUTHORIZED
            times[name] = value
    if "iat" in times and second < times["iat"]:
        return None, IAT_INVALID
    if "exp" in times and second >= times["exp"]:
        return None, EXPIRED
    if "nbf" in times and second < times["nbf"]:
        return None, NBF_INVALID
    return claims, ""
