"""DORA from jobs an admin marks as deploying, and what saving the settings recomputes."""

from django.urls import reverse

from dashboard.insights import queries
from dashboard.insights.scope import scope_from
from dashboard.models import DeployEvent, InsightsSettings, RedSpell

from .conftest import at


def test_jobs_a_pattern_names_are_deployments(history):
    h = history
    InsightsSettings.objects.create(connection=h.connection, deploy_jobs="li*")
    h.apply()
    scope, _ = scope_from({"connection": "acme", "window": "7"})
    figures = queries.dora(scope)
    assert [t["target"] for t in figures["targets"]] == ["lint"]
    lint = figures["targets"][0]
    # lint passed in b1, b2, b3, b5, b7 and failed in b6 (10:00 + 30 s); b7's lint passed at 11:06.
    assert (lint["deployments"], lint["failed"], lint["change_failure_rate"]) == (6, 1, 16.7)
    assert lint["time_to_restore_p50"] == (at(h.d2, "11:06") - at(h.d2, "10:00:30")).total_seconds()
    # b2's lint ran for commit c2, whose first pipeline is b2 itself (11:00): 11:01:30 - 11:00 = 90 s.
    event = DeployEvent.objects.get(job=h.jobs["b2.lint"])
    assert event.lead_seconds == 90 and event.build == h.builds["b2"]


def test_saving_the_settings_in_admin_recomputes_deployments_and_time_red(admin_client_, history):
    h = history
    h.apply()
    assert not DeployEvent.objects.exists()
    assert RedSpell.objects.filter(branch="main").exists()
    response = admin_client_.post(
        reverse("admin:dashboard_insightssettings_add"),
        {
            "connection": h.connection.pk,
            "default_branch": "feature/x",
            "deploy_pipelines": "deploy-*\n",
            "deploy_jobs": "",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "were recomputed" in response.content.decode()
    assert DeployEvent.objects.filter(source="pipeline").count() == 3
    assert not RedSpell.objects.filter(branch="main").exists()  # feature/x is now the default branch


def test_an_older_pipeline_of_a_deployed_commit_seen_later_lengthens_its_lead_time(history):
    h = history
    InsightsSettings.objects.create(connection=h.connection, deploy_pipelines="deploy-*")
    h.apply()
    deployed = DeployEvent.objects.get(build=h.builds["d1"])
    assert deployed.lead_seconds == 2400  # d1 10:40 - b1 (first pipeline of c1) 10:00
    h.build("b0", created=at(h.d1, "09:00"), started=at(h.d1, "09:00"), finished=at(h.d1, "09:05"), sha="c1")
    h.apply("b0")
    deployed.refresh_from_db()
    assert deployed.lead_seconds == 6000  # now from b0 at 09:00
    assert DeployEvent.objects.get(build=h.builds["d3"]).lead_seconds == 1800  # c6's deployment: unmoved
