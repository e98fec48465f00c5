"""prunner's JWT check (go-chi/jwtauth v5.3.3) in the simulator, and what our client and
sync make of its refusals (docs/providers/prunner.md, "Authentication")."""

from __future__ import annotations

import time

import jwt
import pytest

from dashboard.models import Connection, Health
from dashboard.sync import sync_connection
from providers.base.errors import AuthError
from providers.prunner import tokens
from providers.prunner.client import PrunnerClient

from .support import SECRET, call


def refusal(response) -> str:
    assert response.status_code == 401
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    return response.text


def now() -> int:
    return int(time.time())


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "BeArEr"])
def test_the_bearer_scheme_is_matched_in_any_case(prunner_sim, scheme):
    token = tokens.mint(SECRET, "j.doe")
    response = call(prunner_sim, "GET", "/pipelines/", token="", headers={"Authorization": f"{scheme} {token}"})
    assert response.status_code == 200


def test_the_jwt_cookie_is_read_when_there_is_no_header(prunner_sim):
    response = call(
        prunner_sim, "GET", "/pipelines/", token="", headers={"Cookie": f"jwt={tokens.mint(SECRET, 'j.doe')}"}
    )
    assert response.status_code == 200


# Time claims are offsets from the moment the test runs (not when it is collected: on a
# busy machine the suite can take longer than any fixed margin to get here).
@pytest.mark.parametrize(
    ("claims", "secret", "algorithm", "words"),
    [
        ({"sub": "x", "exp": 60}, "another-secret-0123456789abcdefgh", "HS256", "token is unauthorized\n"),
        ({"sub": "x", "exp": 60}, SECRET, "HS512", "token is unauthorized\n"),
        ({"sub": "x", "exp": -1}, SECRET, "HS256", "token is expired\n"),
        ({"sub": "x", "nbf": 600}, SECRET, "HS256", "token nbf validation failed\n"),
        ({"sub": "x", "iat": 600}, SECRET, "HS256", "token iat validation failed\n"),
        ({"sub": "x", "exp": "soon"}, SECRET, "HS256", "token is unauthorized\n"),
    ],
)
def test_bad_tokens_get_jwtauths_words_in_plain_text(prunner_sim, claims, secret, algorithm, words):
    at_run = {k: now() + v if k in ("exp", "nbf", "iat") and isinstance(v, int) else v for k, v in claims.items()}
    token = tokens.encode(secret, at_run, algorithm=algorithm)
    assert refusal(call(prunner_sim, "GET", "/pipelines/jobs", token=token)) == words


def test_a_missing_or_unsigned_token_is_refused(prunner_sim):
    assert refusal(call(prunner_sim, "GET", "/pipelines/", token="")) == "no token found\n"
    unsigned = jwt.encode({"sub": "x"}, None, algorithm="none")
    assert refusal(call(prunner_sim, "GET", "/pipelines/", token=unsigned)) == "token is unauthorized\n"
    assert refusal(call(prunner_sim, "GET", "/pipelines/", token="not.a.jwt")) == "token is unauthorized\n"


def test_a_token_without_claims_is_enough(prunner_sim):
    assert call(prunner_sim, "GET", "/pipelines/", token=tokens.encode(SECRET, {})).status_code == 200


def test_the_client_mints_a_short_lived_hs256_token_per_request(api, prunner_sim):
    seen = []
    original = prunner_sim.pipelines

    def capture(request):
        seen.append(request.headers["Authorization"])
        return original(request)

    prunner_sim.pipelines = capture
    api.pipelines()
    api.pipelines()
    scheme, _, token = seen[0].partition(" ")
    assert scheme == "Bearer"
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims["sub"] == "ci-dashboard"
    assert "iat" not in claims  # prunner refuses an iat ahead of its own clock
    assert 0 < claims["exp"] - now() <= 61
    with api.acting_as("otto"):
        api.pipelines()
    assert jwt.decode(seen[-1].split(" ", 1)[1], SECRET, algorithms=["HS256"])["sub"] == "otto"
    assert jwt.decode(seen[-1].split(" ", 1)[1], SECRET, algorithms=["HS256"])["sub"] != "ci-dashboard"


def test_the_client_reports_the_servers_words(prunner_sim):
    with PrunnerClient(prunner_sim.url, "wrong-secret-0123456789abcdefghij") as client, pytest.raises(AuthError) as err:
        client.pipelines()
    assert str(err.value) == "prunner refused the token: token is unauthorized"
    assert client.requests == 1  # a refused token is not retried


def test_our_tokens_work_with_a_server_whose_clock_is_behind_ours(prunner, prunner_sim):
    # prunner refuses a token issued 2 s "in the future"; ours carry no iat.
    prunner_sim.auth_clock = lambda: time.time() - 30
    with PrunnerClient(prunner_sim.url, SECRET) as client:
        assert client.pipelines()
    ahead = tokens.encode(SECRET, {"sub": "x", "iat": now() + 2})
    assert refusal(call(prunner_sim, "GET", "/pipelines/", token=ahead)) == "token iat validation failed\n"


def test_a_server_clock_ahead_of_ours_expires_our_tokens_and_says_so(prunner, prunner_sim):
    prunner_sim.auth_clock = lambda: time.time() + 3600
    sync_connection(prunner.pk)

    prunner.refresh_from_db()
    assert prunner.health == Health.AUTH_FAILED
    assert "token is expired" in prunner.last_error


def test_a_connection_without_a_secret_sends_no_token_and_is_told_so(db, prunner_sim):
    with PrunnerClient(prunner_sim.url, "") as client, pytest.raises(AuthError, match="no token found"):
        client.pipelines_jobs()
    connection = Connection.objects.create(kind="prunner", name="p", slug="p", base_url=prunner_sim.url, token="")
    sync_connection(connection.pk)

    connection.refresh_from_db()
    assert connection.health == Health.AUTH_FAILED
    assert connection.last_error == "prunner refused the token: no token found"


def test_a_short_secret_prunner_accepts_works_without_warnings(clock, recwarn):
    from providers.prunner.sim import PrunnerSimulator

    sim = PrunnerSimulator("sixteen-chars-ok", clock=clock).serve()
    try:
        with PrunnerClient(sim.url, "sixteen-chars-ok") as client:
            assert client.pipelines()
    finally:
        sim.stop()
    assert not [w for w in recwarn if issubclass(w.category, jwt.InsecureKeyLengthWarning)]
