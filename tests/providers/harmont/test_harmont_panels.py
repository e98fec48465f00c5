"""Harmont's panels (docs/providers/harmont.md, "Panels"): plain-JSON contexts, the job
as Harmont answers it now, artifacts, and failures that were allowed shown as such."""

from __future__ import annotations

import json

import pytest
from django.template.loader import render_to_string

from dashboard.models import Build, Job, Pipeline
from dashboard.panels import render_panel
from dashboard.states import State
from dashboard.sync import sync_connection
from providers.base.sim import Faults, Scale
from providers.harmont.adapter import HarmontAdapter
from providers.harmont.mapping import artifact
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


def soft_failed_build(sim, clock):
    """A finished acme/ci build whose ``lint`` failed as its soft-fail policy allows."""
    outcomes = {"setup": "passed", "lint": "failed", "unit": "passed", "package": "passed"}
    return sim.create_build(
        sim.orgs["acme"].pipelines["ci"],
        branch="main",
        commit="c" * 40,
        message="",
        source="api",
        created=clock.now(),
        outcomes=outcomes,
    )


def test_every_panel_context_is_plain_json(adapter, harmont):
    build = Build.objects.get(external_id="acme:ci:3")
    for obj, name in (
        (Pipeline.objects.get(external_id="acme:ci"), "pipeline_panel"),
        (build, "build_panel"),
        (build.jobs.first(), "job_panel"),
    ):
        context = adapter.panel_context(obj, None, name)
        assert json.loads(json.dumps(context)) == context, name


def test_a_jobs_artifacts_are_listed_in_its_panel(adapter, sim):
    job = Job.objects.filter(build__external_id="acme:ci:3", state__in=[State.PASSED, State.FAILED]).last()
    panel = adapter.panel_context(job, None, "job_panel")

    assert panel["artifacts_available"] and panel["artifacts_error"] == ""
    names = [a["name"] for a in panel["artifacts"]]
    assert "junit.xml" in names
    html = render_to_string("providers/harmont/job_panel.html", {"job": job, **panel})
    assert "<h3>Artifacts</h3>" in html and "junit.xml" in html and "https://artifacts.harmont.dev/" in html


def test_the_artifacts_section_hides_when_harmont_answers_404(adapter, sim):
    sim.artifacts_enabled = False  # the real Harmont: no such route
    job = Job.objects.filter(build__external_id="acme:ci:3").first()

    panel = adapter.panel_context(job, None, "job_panel")

    assert panel["artifacts_available"] is False and panel["artifacts_error"] == ""
    html = render_to_string("providers/harmont/job_panel.html", {"job": job, **panel})
    assert "Artifacts" not in html and "error" not in html


def test_an_artifacts_failure_other_than_404_is_said_in_words(adapter, sim):
    sim.list_artifacts = lambda request, **kw: sim.json({"data": 5})
    job = Job.objects.filter(build__external_id="acme:ci:3").first()
    panel = adapter.panel_context(job, None, "job_panel")
    assert not panel["artifacts_available"]
    assert panel["artifacts_error"].startswith("Could not list artifacts:")


def test_only_web_links_become_artifact_links():
    assert artifact({"name": "x", "url": "javascript:alert(1)"})["url"] == ""
    assert artifact({"path": "dist/a", "size": "12"}) == {
        "name": "dist/a",
        "path": "dist/a",
        "size": 12,
        "content_type": "",
        "url": "",
    }


def test_the_job_panel_says_a_failure_was_allowed(adapter, harmont, sim, clock):
    planned = soft_failed_build(sim, clock)
    clock.advance(120)
    sync_connection(harmont.pk)
    lint = Job.objects.get(external_id=next(j.id for j in planned.jobs if j.step_key == "lint"))

    html = render_to_string(
        "providers/harmont/job_panel.html", {"job": lint, **adapter.panel_context(lint, None, "job_panel")}
    )

    assert 'class="state state-soft-failed"' in html and "failed (allowed)" in html
    assert "failed with exit code 1, and its soft-fail policy let the build go on" in html
    assert "exit_codes: [1]" in html
    assert 'class="error"' not in html, "an allowed failure is not shown as an error"


def test_the_build_panel_lists_the_failures_that_were_allowed(harmont, sim, clock, viewer_client):
    planned = soft_failed_build(sim, clock)
    clock.advance(120)
    sync_connection(harmont.pk)
    build = Build.objects.get(external_id=f"acme:ci:{planned.number}")
    lint = build.jobs.get(allowed_failure=True)
    assert build.state == State.PASSED

    page = viewer_client.get(build.get_absolute_url()).content.decode()

    assert "Allowed failures" in page and "1 job failed, and its soft-fail policy let the build go on" in page
    assert f'<a href="{lint.get_absolute_url()}"><span class="state state-soft-failed">' in page
    other = Build.objects.get(external_id="acme:ci:1")
    assert "Allowed failures" not in viewer_client.get(other.get_absolute_url()).content.decode()


def test_the_job_panel_shows_the_job_as_harmont_answers_it_now(harmont, sim, clock):
    planned = soft_failed_build(sim, clock)
    sync_connection(harmont.pk)
    setup = Job.objects.get(external_id=planned.jobs[0].id)
    assert setup.state == State.QUEUED
    clock.advance(planned.jobs[0].start - clock.now() + 0.5)  # it runs now; no sync has seen it
    sim.requests.clear()

    html = render_panel(None, setup, "job_panel")

    assert "Harmont says this job is <code>running</code> now" in html
    assert "<code>setup</code>" in html and "<code>make deps</code>" in html
    assert [r.path.rsplit("/", 1)[-1] for r in sim.requests] == [setup.external_id, "artifacts"]


def test_a_job_panel_that_cannot_ask_harmont_says_so_and_shows_what_was_stored(harmont, sim, settings):
    settings.PAGE_PROVIDER_SECONDS = 1
    job = Job.objects.filter(build__external_id="acme:ci:3").first()
    sim.faults = Faults(error_rate=1.0)
    sim.requests.clear()

    html = render_panel(None, job, "job_panel")

    assert "Could not ask Harmont for this job now: The provider failed" in html
    assert f"<code>{job.raw['step_key']}</code>" in html
    assert "Artifacts" not in html
    assert len(sim.requests) <= 2, "a page view asks briefly"
