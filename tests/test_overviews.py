"""The cross-provider overview pages list what the syncs stored."""

import pytest
from django.urls import reverse

from dashboard.models import Agent, DeploymentTarget, RetentionPolicy
from dashboard.sync import sync_connection


@pytest.fixture
def synced(semaphore):
    sync_connection(semaphore.pk)
    return semaphore


def test_the_agents_page_lists_every_agent_with_its_type(viewer_client, synced):
    page = viewer_client.get(reverse("agents")).content.decode()
    assert Agent.objects.exists()
    for agent in Agent.objects.select_related("agent_type"):
        assert agent.name in page and agent.agent_type.name in page


def test_the_deployments_page_lists_targets_and_recent_deployments(viewer_client, synced):
    page = viewer_client.get(reverse("deployments")).content.decode()
    for target in DeploymentTarget.objects.all():
        assert target.name in page
    assert "Recent deployments" in page and page.count("<tr>") > DeploymentTarget.objects.count()


def test_the_retention_page_shows_each_projects_rules(viewer_client, synced):
    page = viewer_client.get(reverse("retention")).content.decode()
    for policy in RetentionPolicy.objects.select_related("project"):
        assert policy.project.name in page
    assert "/**/*" in page or "kept forever" in page


def test_pages_and_lists_of_what_no_connected_provider_has_do_not_exist(viewer_client, synced):
    # Only Semaphore is connected here: it has agents, but no cron schedules.
    home = viewer_client.get(reverse("builds")).content.decode()
    assert reverse("agents") in home and reverse("schedules") not in home
    assert viewer_client.get(reverse("schedules")).status_code == 404
    assert viewer_client.get(reverse("api-schedules")).status_code == 404
    assert viewer_client.get(reverse("api-agents")).status_code == 200


def test_the_schedules_page_lists_cron_jobs_with_their_next_run(viewer_client, clock):
    from providers.jobsplatform.sim import JobsPlatformSimulator
    from tests.conftest import make_connection

    sim = JobsPlatformSimulator("jp-token", seed=1, clock=clock).serve()
    with sim.stop_after():
        connection = make_connection(sim, slug="jp", options=sim.connection_options())
        sync_connection(connection.pk)
        page = viewer_client.get(reverse("schedules")).content.decode()
    assert "heartbeat" in page and "<code>* * * * *</code>" in page
    assert "nightly-report" in page and "<code>0 3 * * *</code>" in page
    assert "/jobsplatform/jp/pipeline/" in page


def test_the_activity_page_shows_who_did_what_and_the_answer(operator_client, synced):
    from dashboard.models import Build

    build = Build.objects.filter(state="failed").first()
    url = reverse("action", args=["semaphore", synced.slug, "promote", "build", build.external_id])
    operator_client.post(url, {"name": "Nowhere", "override": "on"})
    page = operator_client.get(reverse("activity")).content.decode()
    assert "otto" in page and "promote" in page and "is not defined in the pipeline" in page
    assert 'class="refused"' in page
