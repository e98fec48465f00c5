"""Data migrations: an upgraded database reads like a freshly synced one."""

import importlib

from django.apps import apps

from dashboard.models import Agent, Connection, Deployment, DeploymentTarget

neutral_states = importlib.import_module("dashboard.migrations.0012_neutral_infra_states")


def test_provider_words_stored_as_states_become_neutral_with_the_word_kept(db):
    connection = Connection.objects.create(
        kind="semaphore", name="S", slug="s", base_url="http://127.0.0.1:9", token="t"
    )
    made = dict(connection=connection, raw_state="")
    Agent.objects.create(external_id="a1", name="a1", state="waiting_for_job", **made)
    Agent.objects.create(external_id="a2", name="a2", state="running_job", **made)
    Agent.objects.create(external_id="a3", name="a3", state="busy", raw_state="running_job", connection=connection)
    target = DeploymentTarget.objects.create(external_id="t1", name="prod", state="CORDONED", **made)
    Deployment.objects.create(external_id="d1", target=target, state="FAILED", **made)
    Deployment.objects.create(external_id="d2", target=target, state="SOMETHING_NEW", **made)

    neutral_states.forwards(apps, None)

    assert dict(Agent.objects.values_list("name", "state")) == {"a1": "idle", "a2": "busy", "a3": "busy"}
    assert Agent.objects.get(name="a1").raw_state == "waiting_for_job"
    target.refresh_from_db()
    assert (target.state, target.raw_state) == ("deactivated", "CORDONED")
    assert dict(Deployment.objects.values_list("external_id", "state")) == {"d1": "failed", "d2": "unknown"}
    assert Deployment.objects.get(external_id="d2").raw_state == "SOMETHING_NEW"  # the provider's word is kept
