"""Semaphore self-hosted agent types and agents (docs/providers/semaphore.md,
"Self-hosted agents"): the client against the simulator over HTTP, the sync into the
database with neutral states, the actions, and the registration token that is shown once
and kept nowhere."""

import json
import logging

import pytest
from django.template.loader import render_to_string

from dashboard.actions import run_action
from dashboard.models import (
    ActionLog,
    Agent,
    AgentType,
    Build,
    Deployment,
    DeploymentTarget,
    Health,
    Job,
    Pipeline,
    Project,
    RetentionPolicy,
    Schedule,
    SyncRun,
)
from dashboard.sync import apply_batch, sync_connection
from providers.base.errors import AuthError, NotFound, PermissionDenied, Rejected
from providers.semaphore.actions.agents import AgentTypeForm, DisableAgentsForm
from providers.semaphore.client import SemaphoreClient
from providers.semaphore.panels import agents_panel
from providers.semaphore.sim.agents import LEAVE_AFTER

from .support import action

V1 = "/api/v1alpha"
ROWS_WITH_RAW = (
    Project,
    Pipeline,
    Build,
    Job,
    Schedule,
    AgentType,
    Agent,
    DeploymentTarget,
    Deployment,
    RetentionPolicy,
)


def idle_and_busy(sim, type_name: str) -> tuple[set[str], set[str]]:
    t = sim.now()
    agents = sim.connected_agents(type_name)
    return {a.name for a in agents if not a.running(t)}, {a.name for a in agents if a.running(t)}


# Client ------------------------------------------------------------------------------------------
def test_agent_types_are_listed_with_their_name_settings(api):
    types = {t["metadata"]["name"]: t for t in api.agent_types()}

    assert sorted(types) == ["s1-linux-large", "s1-linux-small", "s1-macos"]
    large = types["s1-linux-large"]["spec"]["agent_name_settings"]
    assert large["assignment_origin"] == "assignment_origin_aws_sts"
    assert large["aws"] == {"account_id": "123456789012", "role_name_patterns": "ci-*"}
    assert types["s1-linux-small"]["spec"]["agent_name_settings"]["aws"] is None
    for listed in types.values():  # real agent types always carry both times as numbers
        assert isinstance(listed["metadata"]["create_time"], int)
        assert isinstance(listed["metadata"]["update_time"], int)
    assert types["s1-linux-small"]["status"] == {"total_agent_count": 5}


def test_an_agent_type_is_described_and_an_unknown_one_is_not_found(api):
    assert api.agent_type("s1-linux-small")["metadata"]["name"] == "s1-linux-small"
    with pytest.raises(NotFound) as missing:
        api.agent_type("s1-nope")
    assert str(missing.value) == "Not found: agent type not found"  # a JSON string


def test_agents_are_paged_through_every_cursor(api, semaphore_sim):
    semaphore_sim.requests.clear()

    agents = list(api.agents(page_size=3))

    assert sorted(a["metadata"]["name"] for a in agents) == sorted(semaphore_sim.sh_agents)
    assert len(agents) == 8
    pages = [r for r in semaphore_sim.requests if r.path == f"{V1}/agents"]
    assert len(pages) == 3  # 3 + 3 + 2
    assert "cursor=" not in pages[0].query and all("cursor=" in p.query for p in pages[1:])


def test_one_page_says_whether_more_follow_in_its_body_cursor(api):
    first, cursor = api.agents_page(page_size=5)
    rest, last_cursor = api.agents_page(cursor, page_size=5)

    assert len(first) == 5 and cursor
    assert len(rest) == 3 and last_cursor is None


def test_agents_can_be_listed_for_one_type(api):
    agents = list(api.agents("s1-linux-large"))

    assert len(agents) == 3
    assert {a["metadata"]["type"] for a in agents} == {"s1-linux-large"}
    assert {a["status"]["state"] for a in agents} <= {"waiting_for_job", "running_job"}
    assert list(api.agents("s1-macos")) == []


def test_an_agent_is_described_and_an_unknown_one_is_not_found(api):
    name = api.agents()[0]["metadata"]["name"]

    described = api.get_json(f"{V1}/agents/{name}")

    assert described["metadata"]["name"] == name
    assert isinstance(described["metadata"]["connected_at"], int)
    assert "disabled_at" not in described["metadata"]
    with pytest.raises(NotFound, match="agent not found"):
        api.get_json(f"{V1}/agents/nobody")


def test_a_malformed_page_size_is_refused_in_semaphores_words(api):
    with pytest.raises(Rejected) as refused:
        api.agents_page(page_size="ten")
    assert str(refused.value) == "Invalid value of 'page_size' param: \"ten\" - needs to be integer."


def test_disabling_is_form_encoded_and_only_idle_agents_by_default(api, semaphore_sim, clock):
    seen = {}
    original = semaphore_sim.sh_disable_all

    def capture(request, name):
        seen.update(content_type=request.mimetype, form=request.form.to_dict())
        return original(request, name)

    semaphore_sim.sh_disable_all = capture
    idle, busy = idle_and_busy(semaphore_sim, "s1-linux-small")
    assert idle and busy  # the seed gives both kinds

    api.disable_agents("s1-linux-small")

    assert seen == {"content_type": "application/x-www-form-urlencoded", "form": {"only_idle": "true"}}
    listed = {a["metadata"]["name"]: a["metadata"] for a in api.agents("s1-linux-small")}
    assert {n for n, meta in listed.items() if meta.get("disabled_at")} == idle
    clock.advance(LEAVE_AFTER + 1)
    remaining = {a["metadata"]["name"] for a in api.agents("s1-linux-small")}
    assert remaining == busy  # the disabled idle agents left
    assert api.agent_type("s1-linux-small")["status"]["total_agent_count"] == len(busy)


def test_disabling_busy_agents_too_lets_them_finish_their_job_first(api, semaphore_sim, clock):
    _, busy = idle_and_busy(semaphore_sim, "s1-linux-small")

    api.disable_agents("s1-linux-small", only_idle=False)
    clock.advance(LEAVE_AFTER + 0.5)

    assert {a["metadata"]["name"] for a in api.agents("s1-linux-small")} <= busy
    clock.advance(max(a.leaves_at for a in semaphore_sim.sh_agents.values() if a.leaves_at) - semaphore_sim.now())
    assert list(api.agents("s1-linux-small")) == []


def test_an_only_idle_that_is_not_a_boolean_is_refused(api):
    with pytest.raises(Rejected) as refused:
        api.request("POST", f"{V1}/self_hosted_agent_types/s1-macos/disable_all", data={"only_idle": "maybe"})
    assert str(refused.value) == "Invalid 'only_idle': 'maybe' is not a boolean."


def test_permission_denied_on_agents_is_not_a_bad_token(api, semaphore_sim):
    semaphore_sim.agents_denied = True
    with pytest.raises(PermissionDenied, match="Permission denied"):
        api.agent_types()
    with pytest.raises(PermissionDenied):
        list(api.agents())
    with SemaphoreClient(semaphore_sim.url, "wrong-token") as stranger, pytest.raises(AuthError):
        stranger.agent_types()


def settings(release_after: int = 0, **extra) -> dict:
    return {
        "agent_name_settings": {"assignment_origin": "assignment_origin_agent", "release_after": release_after, **extra}
    }


@pytest.mark.parametrize(
    "body, words",
    [
        ({"metadata": {"name": "s1-linux-small"}}, "agent type name must by unique in the organization"),
        (
            {"metadata": {"name": "linux"}},
            "The agent type name 'linux' is invalid: must follow the pattern ^s1-[a-zA-Z0-9-_]+$",
        ),
        ({"metadata": {"name": "s1-with space"}}, "must follow the pattern"),
        ({"metadata": {"name": "s1-x"}, "spec": settings(30)}, "name release hold must be greater than 60"),
        ({"metadata": {"name": "s1-x"}, "spec": settings(-1)}, "name release hold must be 0 or greater than 60"),
        (
            {
                "metadata": {"name": "s1-x"},
                "spec": {"agent_name_settings": {"assignment_origin": "assignment_origin_aws_sts"}},
            },
            "AWS information missing",
        ),
        ({"metadata": {"name": "s1-x"}, "spec": settings(aws={"account_id": "1"})}, "AWS account ID is not allowed"),
        ({"spec": {}}, "Name must be provided"),
    ],
)
def test_the_simulator_refuses_agent_types_in_semaphores_words(api, body, words):
    with pytest.raises(Rejected) as refused:
        api.create_agent_type(body)
    assert words in str(refused.value)


def test_a_hold_of_a_minute_or_more_is_taken(api):
    created = api.create_agent_type({"metadata": {"name": "s1-held_1"}, "spec": settings(60)})
    assert created["spec"]["agent_name_settings"]["release_after"] == 60


# Forms -----------------------------------------------------------------------------------------
def test_the_form_requires_aws_details_for_aws_sts_names():
    form = AgentTypeForm(data={"name": "s1-aws", "assignment_origin": "aws_sts", "release_after": "0"})

    assert not form.is_valid()
    assert form.errors["aws_account_id"] == ["Required when agent names come from AWS STS."]
    assert form.errors["aws_role_name_patterns"] == ["Required when agent names come from AWS STS."]


@pytest.mark.parametrize(
    "name, hold, field, words",
    [
        ("linux", "0", "name", "s1- then letters"),
        ("s1-has space", "0", "name", "s1- then letters"),
        ("s1-ok", "-1", "release_after", "greater than or equal to 0"),
        ("s1-ok", "30", "release_after", "at least 60 seconds"),
    ],
)
def test_the_form_refuses_what_semaphore_would(name, hold, field, words):
    form = AgentTypeForm(data={"name": name, "assignment_origin": "agent", "release_after": hold})

    assert not form.is_valid()
    assert words in form.errors[field][0]


def test_the_edit_form_starts_from_the_stored_type(semaphore):
    sync_connection(semaphore.pk)
    large = AgentType.objects.get(name="s1-linux-large")

    form = AgentTypeForm(target=large)

    assert form.fields["name"].disabled and form.fields["name"].initial == "s1-linux-large"
    assert form.fields["assignment_origin"].initial == "aws_sts"
    assert form.fields["aws_account_id"].initial == "123456789012"
    assert form.fields["release_after"].initial == 60


# Sync --------------------------------------------------------------------------------------------
def test_a_sync_stores_agent_types_and_their_agents(semaphore, semaphore_sim):
    run = sync_connection(semaphore.pk)

    assert run.status == SyncRun.Status.OK, run.error
    assert set(AgentType.objects.values_list("name", flat=True)) == set(semaphore_sim.agent_types)
    assert set(Agent.objects.values_list("name", flat=True)) == set(semaphore_sim.sh_agents)
    t = semaphore_sim.now()
    for agent in Agent.objects.select_related("agent_type"):
        sim_agent = semaphore_sim.sh_agents[agent.name]
        assert agent.agent_type.name == sim_agent.type_name
        assert agent.connected_at is not None and agent.disabled_at is None
        expected = ("busy", "running_job") if sim_agent.running(t) else ("idle", "waiting_for_job")
        assert (agent.state, agent.raw_state) == expected
    macos = AgentType.objects.get(name="s1-macos")
    assert macos.updated_at is not None and macos.created_at is not None and macos.total_agents == 0
    assert AgentType.objects.get(name="s1-linux-large").assignment_origin == "assignment_origin_aws_sts"


def test_agents_are_synced_through_all_pages(db, semaphore_sim):
    from tests.conftest import make_connection

    connection = make_connection(semaphore_sim, options={"agents_page_size": 2})

    run = sync_connection(connection.pk)

    assert run.status == SyncRun.Status.OK, run.error
    assert Agent.objects.filter(connection=connection).count() == 8
    assert semaphore_sim.count(f"{V1}/agents") == 4


def test_a_token_that_may_not_see_agents_spoils_only_that_part(semaphore, semaphore_sim):
    semaphore_sim.agents_denied = True

    run = sync_connection(semaphore.pk)

    semaphore.refresh_from_db()
    assert run.status == SyncRun.Status.PARTIAL
    assert semaphore.health == Health.DEGRADED
    assert "Permission denied" in semaphore.last_error
    assert Build.objects.count() == len(semaphore_sim.pipelines)
    assert not AgentType.objects.exists()


def test_the_agents_part_of_the_sync_can_be_turned_off(db, semaphore_sim):
    from tests.conftest import make_connection

    semaphore_sim.agents_denied = True
    connection = make_connection(semaphore_sim, options={"sync_agents": False})

    run = sync_connection(connection.pk)

    assert run.status == SyncRun.Status.OK, run.error
    assert semaphore_sim.count(f"{V1}/self_hosted_agent_types") == 0


def test_agents_that_left_and_deleted_types_go_once_two_complete_lists_agree(
    semaphore, semaphore_sim, clock, believe_deletions_at_once
):
    sync_connection(semaphore.pk)
    for agent in semaphore_sim.connected_agents("s1-linux-large"):
        agent.disabled_at, agent.leaves_at = semaphore_sim.now(), semaphore_sim.now()
    del semaphore_sim.agent_types["s1-macos"]
    clock.advance(1)

    sync_connection(semaphore.pk)
    assert Agent.objects.filter(agent_type__name="s1-linux-large").count() == 3  # one list is not evidence enough
    sync_connection(semaphore.pk)

    assert not Agent.objects.filter(agent_type__name="s1-linux-large").exists()
    assert Agent.objects.count() == 5
    assert set(AgentType.objects.values_list("name", flat=True)) == {"s1-linux-small", "s1-linux-large"}


# Actions -----------------------------------------------------------------------------------------
def test_creating_an_agent_type_shows_the_token_once_and_keeps_it_nowhere(semaphore, semaphore_sim, operator, caplog):
    caplog.set_level(logging.DEBUG)
    sync_connection(semaphore.pk)
    form = AgentTypeForm(
        data={
            "name": "s1-gpu",
            "assignment_origin": "aws_sts",
            "release_after": "90",
            "aws_account_id": "210987654321",
            "aws_role_name_patterns": "gpu-*",
        },
        target=semaphore,
    )
    assert form.is_valid(), form.errors

    outcome = run_action(operator, semaphore, action("create_agent_type"), semaphore, form.cleaned_data)

    assert outcome.ok, outcome.message
    token = outcome.result.once["registration token"]
    assert token == semaphore_sim.agent_types["s1-gpu"].token and len(token) >= 32
    assert token not in outcome.message
    created = AgentType.objects.get(name="s1-gpu")
    assert created.assignment_origin == "assignment_origin_aws_sts" and created.release_after == 90
    assert "registration_token" not in created.raw["status"]
    sync_connection(semaphore.pk)
    for model in ROWS_WITH_RAW:
        for raw in model.objects.values_list("raw", flat=True):
            assert token not in json.dumps(raw), model.__name__
    entry = ActionLog.objects.get(action="create_agent_type")
    assert entry.ok and token not in json.dumps(entry.params) and token not in entry.answer
    assert token not in caplog.text


def test_updating_an_agent_type_changes_its_settings(adapter, semaphore, semaphore_sim, operator):
    sync_connection(semaphore.pk)
    small = AgentType.objects.get(name="s1-linux-small")
    form = AgentTypeForm(data={"assignment_origin": "agent", "release_after": "120"}, target=small)
    assert form.is_valid(), form.errors

    result = adapter.perform(action("update_agent_type"), small, form.cleaned_data, operator)
    apply_batch(semaphore, result.refresh)

    assert "s1-linux-small saved" in result.message
    assert semaphore_sim.agent_types["s1-linux-small"].release_after == 120
    small.refresh_from_db()
    assert small.release_after == 120 and small.updated_at is not None


def test_deleting_a_type_that_still_has_agents_is_refused_in_semaphores_words(
    adapter, semaphore, semaphore_sim, operator
):
    sync_connection(semaphore.pk)
    small = AgentType.objects.get(name="s1-linux-small")

    with pytest.raises(Rejected) as refused:
        adapter.perform(action("delete_agent_type"), small, {}, operator)

    assert str(refused.value) == "can't delete agent type with existing agents"
    assert "s1-linux-small" in semaphore_sim.agent_types


def test_a_disabled_fleet_leaves_and_its_type_can_then_be_deleted(
    semaphore, semaphore_sim, operator, clock, believe_deletions_at_once
):
    sync_connection(semaphore.pk)
    large = AgentType.objects.get(name="s1-linux-large")
    form = DisableAgentsForm(data={}, target=large)  # unticked: busy agents too
    assert form.is_valid()

    disabled = run_action(operator, semaphore, action("disable_agents"), large, form.cleaned_data)

    assert disabled.ok and "All agents of s1-linux-large are being disabled" in disabled.message
    assert Agent.objects.filter(agent_type=large, disabled_at__isnull=False).count() == 3  # stored at once
    clock.advance(max(a.leaves_at for a in semaphore_sim.sh_agents.values() if a.leaves_at) - semaphore_sim.now())
    sync_connection(semaphore.pk)
    sync_connection(semaphore.pk)  # two complete lists without them: they are gone
    assert not Agent.objects.filter(agent_type=large).exists()

    deleted = run_action(operator, semaphore, action("delete_agent_type"), large, {})

    assert deleted.ok, deleted.message
    assert "s1-linux-large" not in semaphore_sim.agent_types
    assert not AgentType.objects.filter(name="s1-linux-large").exists()
    sync_connection(semaphore.pk)
    assert not AgentType.objects.filter(name="s1-linux-large").exists()


def test_disabling_only_idle_agents_is_the_default_of_the_form(semaphore, semaphore_sim, operator):
    sync_connection(semaphore.pk)
    small = AgentType.objects.get(name="s1-linux-small")
    idle, busy = idle_and_busy(semaphore_sim, "s1-linux-small")
    form = DisableAgentsForm(initial={}, target=small)
    assert form.fields["only_idle"].initial is True

    outcome = run_action(operator, semaphore, action("disable_agents"), small, {"only_idle": True})

    assert outcome.ok
    assert set(Agent.objects.filter(disabled_at__isnull=False).values_list("name", flat=True)) == idle
    assert f"{len(idle)} of {len(idle) + len(busy)} agent(s) are now disabled" in outcome.message


# Panel -------------------------------------------------------------------------------------------
def test_the_connection_panel_lists_types_agents_and_their_buttons(adapter, semaphore, semaphore_sim, operator, rf):
    sync_connection(semaphore.pk)
    request = rf.get(f"/semaphore/{semaphore.slug}/")
    request.user = operator

    context = agents_panel(adapter, semaphore, request)
    html = render_to_string("providers/semaphore/connection_panel.html", {"obj": semaphore, **context}, request=request)

    assert [entry["name"] for entry in context["agent_types"]] == [
        "s1-linux-large",
        "s1-linux-small",
        "s1-macos",
    ]
    for name in semaphore_sim.sh_agents:
        assert name in html
    assert 'data-action="disable_agents"' in html and 'data-action="delete_agent_type"' in html
    assert "AWS account <code>123456789012</code>" in html
    assert "Production" in html  # the deployment targets' summary links to the projects
    assert "idle" in html and "waiting_for_job" in html  # the neutral word, and Semaphore's beside it
