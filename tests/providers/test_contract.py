"""One contract, run for every registered provider kind (a new provider gets all of it by
registering in ``providers.registry``): the same errors mean the same health, the same
faults are survived the same way, and what a provider declares exists.

Each provider's simulator is built the same way (token, seed, scale, clock) and tells
what a connection to it needs (``connection_options``)."""

from __future__ import annotations

import inspect
import time
from datetime import timedelta

import pytest
from django import forms
from django.template.loader import get_template
from django.utils import timezone

from dashboard.models import Agent, Build, Connection, DeploymentTarget, Health, Job, RetentionPolicy, Schedule, SyncRun
from dashboard.sync import sync_connection
from providers.base.adapter import Adapter, Capability
from providers.base.errors import Unavailable
from providers.base.sim import Clock, Faults, Scale
from providers.registry import KINDS, adapter_class, simulator_class
from tests.conftest import TOKEN

pytestmark = pytest.mark.parametrize("kind", list(KINDS))

SCALE = Scale(projects=2, builds=4, jobs=3, arrival_every=30)
# What a capability promises: rows of this model after a sync.
CAPABILITY_ROWS = {
    Capability.AGENTS: Agent,
    Capability.DEPLOYMENTS: DeploymentTarget,
    Capability.RETENTION: RetentionPolicy,
    Capability.SCHEDULES: Schedule,
}


@pytest.fixture
def sim(kind):
    simulator = simulator_class(kind)(TOKEN, seed=5, scale=SCALE, clock=Clock(manual=True)).serve()
    yield simulator
    simulator.stop()


def connect(sim, slug: str = "contract", **fields) -> Connection:
    return Connection.objects.create(
        kind=sim.kind,
        name=f"{sim.kind} {slug}",
        slug=slug,
        base_url=sim.url,
        token=fields.pop("token", sim.token),
        options=sim.connection_options(),
        **fields,
    )


@pytest.fixture
def connection(db, sim):
    return connect(sim)


@pytest.fixture
def history(connection, sim):
    """A synced connection whose provider has both finished and unfinished builds."""
    sync_connection(connection.pk)
    sim.clock.advance(31)
    sync_connection(connection.pk)
    return connection


def health_of(connection: Connection) -> tuple[str, str]:
    connection.refresh_from_db()
    return connection.health, connection.last_error


# Declarations --------------------------------------------------------------------------------
def test_every_action_has_its_handler_and_a_form_class(kind):
    actions = list(adapter_class(kind).actions)
    assert actions, f"{kind} declares no actions"
    for action in actions:
        assert callable(action.handler), f"{kind} action {action.name} has no handler"
        assert len(inspect.signature(action.handler).parameters) == 4, action.name
        assert action.form is None or issubclass(action.form, forms.BaseForm), action.name


def test_every_panel_has_its_template(kind):
    for panel in adapter_class(kind).panels:
        assert get_template(panel.template_name(kind)), panel.name


def test_every_panel_is_served_as_json_by_the_api(kind, history, client, viewer):
    from django.urls import reverse

    from dashboard.models.registry import model_named

    client.force_login(viewer)
    for panel in adapter_class(kind).panels:
        if panel.page == "connection":
            obj_id = "-"
        else:
            row = model_named(panel.page).objects.filter(connection=history).order_by("-id").first()
            if row is None:
                continue
            obj_id = row.external_id
        url = reverse("api-panel", args=[kind, history.slug, panel.name, panel.page, obj_id])
        response = client.get(url)
        assert response.status_code == 200, (panel.name, response.content[:300])
        assert isinstance(response.json()["data"], dict)


def test_every_capability_declared_is_honoured(kind, history):
    adapter = adapter_class(kind)
    for capability, model in CAPABILITY_ROWS.items():
        if capability in adapter.capabilities:
            assert model.objects.filter(connection=history).exists(), f"{kind} declares {capability} but syncs none"
    if Capability.LOGS in adapter.capabilities:
        assert adapter.fetch_log is not Adapter.fetch_log, f"{kind} declares logs but cannot fetch them"
    if Capability.JOB_DAG in adapter.capabilities:
        assert Job.objects.filter(connection=history).exclude(depends_on=[]).exists(), f"{kind}: no job dependencies"


# Errors and their health ---------------------------------------------------------------------
def test_a_refused_token_is_auth_failed(kind, db, sim):
    connection = connect(sim, token="a-wrong-token-0123456789abcdef")

    run = sync_connection(connection.pk)

    assert run.status == SyncRun.Status.FAILED
    assert health_of(connection)[0] == Health.AUTH_FAILED


def test_server_errors_are_retried(kind, connection, sim):
    sim.answer_next("503", "502")

    run = sync_connection(connection.pk)

    assert run.status == SyncRun.Status.OK, run.error
    assert Build.objects.filter(connection=connection).exists()
    assert [r.status for r in sim.requests[:3]] == [503, 502, 200]


def test_a_short_retry_after_is_waited_for(kind, connection, sim):
    sim.answer_next("429:1")

    run = sync_connection(connection.pk)

    assert run.status == SyncRun.Status.OK, run.error
    first, second = sim.requests[0], sim.requests[1]
    assert first.status == 429 and second.at - first.at >= 1.0


def test_a_long_retry_after_moves_the_next_sync_instead_of_waiting(kind, connection, sim):
    sim.answer_next(*["429:120"] * 5)
    started = time.monotonic()

    run = sync_connection(connection.pk)

    assert time.monotonic() - started < 60, "it did not sleep through the wait"
    health, words = health_of(connection)
    assert run.status == SyncRun.Status.FAILED and health == Health.DEGRADED
    assert "Rate limited" in words
    assert connection.next_sync_at >= timezone.now() + timedelta(seconds=100)


def test_a_provider_that_does_not_answer_is_unreachable(kind, connection, sim, settings):
    settings.PROVIDER_TIMEOUT = 0.3
    sim.faults = Faults(timeout_rate=1.0, timeout_seconds=2)

    run = sync_connection(connection.pk)

    assert run.status == SyncRun.Status.FAILED
    health, words = health_of(connection)
    assert health == Health.UNREACHABLE and "did not answer in time" in words


def test_a_timeout_is_typed_unavailable_for_the_client(kind, connection, sim):
    sim.faults = Faults(timeout_rate=1.0, timeout_seconds=2)
    adapter = adapter_class(kind)(connection)
    adapter.client.timeout = 0.3
    with pytest.raises(Unavailable):
        adapter.check()
    adapter.close()


def test_bodies_that_are_not_json_are_a_problem_in_words_and_the_sync_recovers(kind, history, sim):
    sim.faults = Faults(malformed_rate=1.0)
    run = sync_connection(history.pk)
    assert run.status != SyncRun.Status.OK
    assert "not JSON" in health_of(history)[1]

    sim.faults = Faults()
    run = sync_connection(history.pk)
    assert run.status == SyncRun.Status.OK, run.error
    assert health_of(history)[0] == Health.OK


def test_unknown_states_are_kept_as_unknown_without_failing_the_sync(kind, connection, sim):
    sim.faults = Faults(unknown_enum_rate=1.0)

    run = sync_connection(connection.pk)

    assert run.status in (SyncRun.Status.OK, SyncRun.Status.PARTIAL), run.error
    unknown = [*Build.objects.filter(state="unknown"), *Job.objects.filter(state="unknown")]
    assert unknown and all(row.raw_state for row in unknown)


def test_a_quiet_resync_writes_nothing(kind, history):
    sync_connection(history.pk)

    run = sync_connection(history.pk)

    assert (run.status, run.created, run.updated) == (SyncRun.Status.OK, 0, 0), run.error
