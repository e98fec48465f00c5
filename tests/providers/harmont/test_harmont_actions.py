"""Harmont's buttons (new build, rebuild, cancel), pressed against the simulator
(docs/providers/harmont.md, "Actions")."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string

from dashboard.models import Build, Pipeline
from dashboard.states import State
from dashboard.sync import apply_batch, sync_connection
from providers.base.errors import PermissionDenied, Rejected
from providers.base.sim import Scale
from providers.harmont.actions import TriggerForm
from providers.harmont.adapter import HarmontAdapter
from providers.harmont.sim import HarmontSimulator
from tests.conftest import TOKEN, make_connection


@pytest.fixture
def sim(clock):
    sim = HarmontSimulator(TOKEN, seed=3, scale=Scale(projects=1, builds=3, jobs=4, arrival_every=0), clock=clock)
    sim.serve()
    yield sim
    sim.stop()


@pytest.fixture
def harmont(db, sim):
    connection = make_connection(sim, "hm")
    sync_connection(connection.pk)
    return connection


@pytest.fixture
def adapter(harmont):
    adapter = HarmontAdapter(harmont)
    yield adapter
    adapter.close()


def press(adapter, name: str, target, params: dict | None = None, user=None):
    action = adapter.action(name)
    if action.form is not None:
        form = action.form(data=params or {})
        assert form.is_valid(), form.errors
        params = form.cleaned_data
    return adapter.perform(action, target, params or {}, user)


def test_new_build_starts_one_with_its_environment(adapter, harmont, sim, operator):
    pipeline = Pipeline.objects.get(external_id="acme:ci")
    result = press(
        adapter,
        "trigger",
        pipeline,
        {"branch": "feature/x", "commit": "a" * 40, "message": "Try it", "env": "A=1\n# note\n\nB=x=y\n"},
        operator,
    )

    made = sim.orgs["acme"].pipelines["ci"].builds[4]
    assert (made.branch, made.commit, made.message, made.source) == ("feature/x", "a" * 40, "Try it", "api")
    assert made.env == {"A": "1", "B": "x=y"}
    assert result.message == "Started build #4 of feature/x."
    assert result.show_build == "acme:ci:4"
    apply_batch(harmont, result.refresh)
    stored = Build.objects.get(external_id="acme:ci:4")
    assert stored.state == State.QUEUED and stored.jobs.count() == len(made.jobs)
    assert adapter.action("trigger").secret_fields == ("env",)


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ("NOEQUALS", "line 1: expected KEY=VALUE"),
        ("A=1\n1BAD=2", "line 2: '1BAD' is not a valid variable name"),
        ("A=1\nA=2", "line 2: A is given twice"),
    ],
)
def test_environment_lines_are_checked_before_anything_is_sent(env, error):
    form = TriggerForm(data={"branch": "main", "commit": "abc", "env": env})
    assert not form.is_valid()
    assert error in form.errors["env"][0]


def test_branch_and_commit_are_required_and_single_words():
    form = TriggerForm(data={"branch": "two words", "commit": ""})
    assert not form.is_valid()
    assert set(form.errors) == {"branch", "commit"}


def test_a_pipeline_without_manual_builds_refuses_in_harmonts_words(adapter, sim):
    release = Pipeline.objects.get(external_id="acme:release")
    assert adapter.action("trigger").unavailable(release).startswith("Manual builds are disabled")
    assert adapter.action("trigger").unavailable(Pipeline.objects.get(external_id="acme:ci")) == ""

    with pytest.raises(PermissionDenied) as refused:
        press(adapter, "trigger", release, {"branch": "main", "commit": "abc"})

    assert [r.status for r in sim.requests][-1] == 403
    assert "Manual builds are disabled for this pipeline." in str(refused.value)
    assert f"request id {refused.value.details['request_id']}" in str(refused.value)
    assert refused.value.status == 403


def test_an_exhausted_balance_is_a_402_in_words(adapter, sim):
    sim.balance_exhausted = True
    with pytest.raises(Rejected) as refused:
        press(adapter, "trigger", Pipeline.objects.get(external_id="acme:ci"), {"branch": "main", "commit": "abc"})
    message = str(refused.value)
    assert message.startswith("Harmont billing: Your account doesn't have enough balance for this build.")
    assert "billing_insufficient_balance" in message and refused.value.details["request_id"] in message
    assert refused.value.status == 402


def test_a_rejected_plan_is_a_422_and_the_failed_build_appears_at_the_next_sync(adapter, harmont):
    pipeline = Pipeline.objects.get(external_id="acme:ci")
    with pytest.raises(Rejected) as refused:
        press(adapter, "trigger", pipeline, {"branch": "sim/plan-rejected", "commit": "abc"})
    assert "could not be planned" in str(refused.value) and "build_plan_rejected" in str(refused.value)
    assert refused.value.status == 422

    sync_connection(harmont.pk)
    rejected = Build.objects.get(external_id="acme:ci:4")
    assert rejected.state == State.FAILED and rejected.raw["build"]["error_code"] == "build_plan_rejected"
    assert not rejected.jobs.exists()
    html = render_to_string(
        "providers/harmont/build_panel.html",
        {"build": rejected, **adapter.panel_context(rejected, None, "build_panel")},
    )
    assert "could not be planned" in html and "build_plan_rejected" in html


def test_cancel_stops_a_running_build_and_is_harmless_on_a_finished_one(adapter, harmont, sim, clock):
    pipeline = sim.orgs["acme"].pipelines["ci"]
    planned = sim.create_build(pipeline, branch="main", commit="b" * 40, message="", source="api", created=clock.now())
    clock.advance(4)  # setup is running
    sync_connection(harmont.pk)
    build = Build.objects.get(external_id=f"acme:ci:{planned.number}")
    cancel = adapter.action("cancel")
    assert cancel.destructive and cancel.offered_for(build)

    result = adapter.perform(cancel, build, {}, None)

    assert result.message == f"Build #{planned.number} is canceling."
    apply_batch(harmont, result.refresh)
    build.refresh_from_db()
    assert (build.state, build.raw_state) == (State.RUNNING, "canceling")
    clock.advance(2)
    sync_connection(harmont.pk)
    build.refresh_from_db()
    assert (build.state, build.raw_state) == (State.CANCELED, "canceled")
    assert set(build.jobs.values_list("state", flat=True)) <= {State.PASSED, State.CANCELED}
    assert not cancel.offered_for(build)

    again = adapter.perform(cancel, build, {}, None)
    assert again.message == f"Build #{planned.number} had already finished (canceled); nothing to cancel."
    assert sim.count(f"/api/v0/organizations/acme/pipelines/ci/builds/{planned.number}/cancel", method="PUT") == 2


def test_rebuild_starts_a_new_build_of_the_same_branch_and_commit(adapter, sim):
    old = Build.objects.get(external_id="acme:ci:2")
    assert adapter.action("rebuild").offered_for(old)

    result = press(adapter, "rebuild", old)

    made = sim.orgs["acme"].pipelines["ci"].builds[4]
    assert (made.branch, made.commit, made.message) == (old.branch, old.raw["build"]["commit"], old.commit_message)
    assert result.message == "Started build #4, a rebuild of #2."
    assert result.refresh.builds[0].external_id == "acme:ci:4"


def test_a_rebuild_on_a_pipeline_without_manual_builds_is_shown_unavailable(adapter):
    build = Build.objects.get(external_id="acme:release:1")
    assert "Manual builds are disabled" in adapter.action("rebuild").unavailable(build)
