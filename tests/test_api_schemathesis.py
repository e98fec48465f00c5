"""Schemathesis reads our own OpenAPI schema from a live server and sends generated
requests to every operation, with an operator's session (and its CSRF token, so actions
get past the CSRF check to their forms): no answer may be a server error, and every
answer must match what the schema documents (status, content type, body)."""

import secrets

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from dashboard.models import Build
from dashboard.sync import sync_connection

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = 8  # per operation and kind of path; bounded so the suite stays quick


@pytest.fixture
def api(live_server, semaphore, operator, client, settings):
    # Schemathesis sends many requests without or with wrong credentials on purpose; the
    # login lockout and the anonymous throttle (tested on their own in test_login_guard.py)
    # would answer 429 to them after a few.
    settings.AXES_ENABLED = False
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "anon": "100000/minute", "user": "100000/minute"}
    sync_connection(semaphore.pk)
    # A session rather than basic auth: a password check per request costs the suite minutes.
    client.force_login(operator)
    csrf = secrets.token_hex(16)
    headers = {
        "Cookie": f"sessionid={client.cookies['sessionid'].value}; csrftoken={csrf}",
        "X-CSRFToken": csrf,
    }
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json", headers=headers)
    return schema, headers, live_server.url


def known_paths(semaphore) -> st.SearchStrategy[dict]:
    """Path parameters that name real rows some of the time, so generated requests get past
    the 404 and reach the serializers and forms."""
    build = Build.objects.first()
    job = build.jobs.first()
    ids = [build.external_id, job.external_id, "-"]
    return st.fixed_dictionaries(
        {"kind": st.just(semaphore.kind), "slug": st.just(semaphore.slug), "external_id": st.sampled_from(ids)}
    )


def fuzz(operation, real: st.SearchStrategy[dict], headers: dict, base_url: str) -> None:
    names = {p.name for p in operation.path_parameters}
    strategies = [operation.as_strategy()]
    if names:
        strategies.append(
            real.flatmap(
                lambda values: operation.as_strategy(path_parameters={k: v for k, v in values.items() if k in names})
            )
        )
    # An action's form checks more than JSON Schema can say (a name that must match its
    # target, YAML that must parse, rule syntax): a 400 naming the field is its answer.
    # Insights answer 400 naming a connection, project or pipeline that does not exist
    # rather than figures for nothing, which no schema can enumerate either.
    checked_elsewhere = ("/api/actions/", "/api/insights/")
    excluded = [positive_data_acceptance] if operation.path.startswith(checked_elsewhere) else []

    @given(case=st.one_of(strategies))
    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    def check(case):
        case.call_and_validate(base_url=base_url, headers=headers, excluded_checks=excluded)

    check()


def test_every_operation_answers_as_documented(api, semaphore):
    schema, headers, base_url = api
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40
    real = known_paths(semaphore)
    for operation in operations:
        fuzz(operation, real, headers, base_url)
