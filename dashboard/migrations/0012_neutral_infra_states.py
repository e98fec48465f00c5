"""Agents, deployment targets and deployments stored before they had a neutral state kept
the provider's word in ``state``: move it to ``raw_state`` and put the neutral word in
``state``, so an upgraded database reads like a freshly synced one (finished deployments
are never fetched again, so a sync would not repair them). The words are frozen here as
they were when this migration was written."""

from django.db import migrations

AGENT_STATES = {"waiting_for_job": "idle", "running_job": "busy"}
AGENT_WORDS = {"", "idle", "busy", "disabled", "offline", "unknown"}
TARGET_STATES = {"SYNCING": "syncing", "USABLE": "ready", "UNUSABLE": "unusable", "CORDONED": "deactivated"}
TARGET_WORDS = {"", "syncing", "ready", "unusable", "deactivated", "unknown"}
DEPLOYMENT_STATES = {"PENDING": "pending", "STARTED": "started", "FAILED": "failed"}
DEPLOYMENT_WORDS = {"", "pending", "started", "failed", "unknown"}


def neutralise(apps, model: str, words: dict[str, str], neutral: set[str], key) -> None:
    Model = apps.get_model("dashboard", model)
    old = Model.objects.filter(raw_state="").exclude(state__in=neutral)
    for row in old.only("pk", "state", "raw_state").iterator():
        row.raw_state = row.state
        row.state = words.get(key(row.state), "unknown")
        row.save(update_fields=["state", "raw_state"])


def forwards(apps, schema_editor) -> None:
    neutralise(apps, "Agent", AGENT_STATES, AGENT_WORDS, str.lower)
    neutralise(apps, "DeploymentTarget", TARGET_STATES, TARGET_WORDS, str.upper)
    neutralise(apps, "Deployment", DEPLOYMENT_STATES, DEPLOYMENT_WORDS, str.upper)


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0011_insights")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
