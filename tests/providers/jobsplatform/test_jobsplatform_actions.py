"""The jobs platform's buttons (docs/providers/jobsplatform.md, "Buttons"), called as the
action view calls them and through the pages, and every refusal."""

import pytest
from django.urls import reverse

from dashboard.models import ActionLog, Build, Pipeline, Project, Schedule
from dashboard.sync import sync_connection
from providers.base.errors import NotFound, Rejected
from providers.jobsplatform import contract as c
from providers.jobsplatform.actions import CreateJobForm, DeleteJobForm, UpdateJobForm
from providers.jobsplatform.mapping import short_id

from . import support


@pytest.fixture
def synced(jp):
    sync_connection(jp.pk)
    return jp


def perform(adapter, name, target, params=None, user=None):
    result = adapter.perform(adapter.action(name), target, params or {}, user)
    support.apply(adapter.connection, result)
    return result


def valid(form_class, data, **kw) -> dict:
    form = form_class(data, **kw)
    assert form.is_valid(), form.errors
    return form.cleaned_data


# Create ---------------------------------------------------------------------------------
def test_creating_a_scheduled_job_stores_its_definition_and_schedule(synced, jp_sim, adapter):
    project = Project.objects.get(external_id=support.first_project(jp_sim))
    params = valid(
        CreateJobForm,
        {
            "name": "exporter",
            "image": " python:3.12-slim ",
            "command": "python export.py",
            "schedule": "*/10  * * * *",
            "tags": "data, nightly ,",
            "env_vars": "TARGET=s3://bucket\nDEBUG=1",
        },
    )

    result = perform(adapter, "create_job", project, params)

    assert result.message == "Job exporter created; it runs on schedule */10 * * * * (UTC)."
    job = next(j for j in jp_sim.jobs.values() if j.name == "exporter")
    assert (job.image, job.command, job.tags) == ("python:3.12-slim", "python export.py", ["data", "nightly"])
    assert job.env_vars == {"TARGET": "s3://bucket", "DEBUG": "1"}
    pipeline = support.pipeline_of(job)
    assert pipeline.project == project and pipeline.name == "exporter"
    schedule = Schedule.objects.get(external_id=pipeline.external_id)
    assert schedule.cron == "*/10 * * * *" and schedule.next_run_at.timestamp() == job.next_fire
    assert "env_vars" in adapter.action("create_job").secret_fields
    assert pipeline.raw["job"][c.ENV_VARS] == {"TARGET": "(hidden)", "DEBUG": "(hidden)"}, "values are not stored"


def test_an_on_demand_job_needs_only_a_name_and_an_image(synced, jp_sim, adapter):
    project = Project.objects.get(external_id=support.first_project(jp_sim))
    result = perform(adapter, "create_job", project, valid(CreateJobForm, {"name": "once", "image": "alpine:3.20"}))

    assert result.message.endswith("runs on demand.")
    assert not Schedule.objects.filter(name="once").exists()


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ({"name": "x", "image": "alpine", "schedule": "*/5 * * *"}, "schedule", "needs 5"),
        ({"name": "x", "image": "alpine", "schedule": "0 25 * * *"}, "schedule", "not a valid cron expression"),
        ({"name": "x", "image": "alpine", "schedule": "0 0 31 2 *"}, "schedule", "never fires"),
        ({"name": "x", "image": "   "}, "image", "The image must not be empty"),
        ({"name": "x"}, "image", "The image must not be empty"),
        ({"image": "alpine"}, "name", "required"),
        ({"name": "x", "image": "alpine", "env_vars": "NO_EQUALS_SIGN"}, "env_vars", "Line 1 is not NAME=value"),
        ({"name": "x", "image": "alpine", "env_vars": "1BAD=x"}, "env_vars", "is not a valid variable name"),
    ],
)
def test_the_create_form_refuses_bad_input_with_the_reason(data, field, reason):
    form = CreateJobForm(data)
    assert not form.is_valid()
    assert reason in " ".join(form.errors[field])


def test_the_platform_refuses_what_slips_past_the_form_in_its_own_words(synced, jp_sim, adapter):
    project = Project.objects.get(external_id=support.first_project(jp_sim))
    with pytest.raises(Rejected, match="schedule") as refused:
        perform(adapter, "create_job", project, {"name": "x", "image": "alpine", "schedule": "61 * * * *"})
    assert refused.value.status == 400
    with pytest.raises(Rejected, match="image must be a non-empty string"):
        perform(adapter, "create_job", project, {"name": "x", "image": ""})
    with pytest.raises(Rejected, match="already exists") as duplicate:
        perform(adapter, "create_job", project, {"name": "heartbeat", "image": "alpine"})
    assert duplicate.value.status == 409
    assert not any(j.name == "x" for j in jp_sim.jobs.values())


# Update ---------------------------------------------------------------------------------
def test_an_update_changes_only_the_fields_given_and_applies_from_the_next_run(synced, jp_sim, adapter, api):
    job = support.job_named(jp_sim, "backfill-events")
    in_flight = api.trigger_run(job.project_id, job.id)
    params = valid(UpdateJobForm, {"image": "ghcr.io/acme/etl:2.1"})

    result = perform(adapter, "update_job", support.pipeline_of(job), params)

    assert result.message == "Job backfill-events updated (image); the changes apply from its next run."
    assert (job.image, job.command, job.tags) == ("ghcr.io/acme/etl:2.1", "etl backfill --days 7", ["data"])
    assert api.run(job.project_id, job.id, in_flight[c.RUN_ID])[c.IMAGE] == "ghcr.io/acme/etl:2.0"
    assert api.trigger_run(job.project_id, job.id)[c.IMAGE] == "ghcr.io/acme/etl:2.1"
    assert support.pipeline_of(job).raw["job"][c.IMAGE] == "ghcr.io/acme/etl:2.1"


def test_an_update_can_remove_the_schedule(synced, jp_sim, adapter):
    job = support.job_named(jp_sim, "nightly-report")
    pipeline = support.pipeline_of(job)
    perform(adapter, "update_job", pipeline, valid(UpdateJobForm, {"clear_schedule": "on"}))

    assert job.schedule is None
    assert not Schedule.objects.filter(external_id=pipeline.external_id).exists()


def test_the_update_form_shows_the_current_values_as_placeholders(synced, jp_sim):
    form = UpdateJobForm(target=support.pipeline_of(support.job_named(jp_sim, "heartbeat")))
    html = str(form)
    assert 'placeholder="busybox:1.36"' in html and 'placeholder="* * * * *"' in html
    assert 'placeholder="monitoring"' in html


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({}, "Nothing to change"),
        ({"schedule": "* * * * *", "clear_schedule": "on"}, "not both"),
        ({"schedule": "* * * * * *"}, "needs 5"),
    ],
)
def test_the_update_form_refuses_bad_input_with_the_reason(data, reason):
    form = UpdateJobForm(data)
    assert not form.is_valid()
    assert reason in str(form.errors)


# Delete -----------------------------------------------------------------------------------
def test_deleting_needs_the_jobs_name_typed_exactly(synced, jp_sim, adapter):
    job = support.job_named(jp_sim, "heartbeat")
    pipeline = support.pipeline_of(job)

    form = DeleteJobForm({"confirm_name": "Heartbeat"}, target=pipeline)
    assert not form.is_valid()
    assert "type 'heartbeat' exactly" in form.errors["confirm_name"][0]
    with pytest.raises(Rejected, match="does not match"):
        perform(adapter, "delete_job", pipeline, {"confirm_name": "Heartbeat"})
    assert job.id in jp_sim.jobs, "nothing was sent"
    assert adapter.action("delete_job").destructive


def test_deleting_a_job_removes_it_with_its_runs_and_schedule(synced, jp_sim, adapter):
    job = support.job_named(jp_sim, "heartbeat")
    pipeline = support.pipeline_of(job)
    run_ids = list(job.runs)
    params = valid(DeleteJobForm, {"confirm_name": "heartbeat"}, target=pipeline)

    result = perform(adapter, "delete_job", pipeline, params)

    assert result.message == f"Job heartbeat deleted, with {len(run_ids)} run(s) and its schedule."
    assert job.id not in jp_sim.jobs and not any(r in jp_sim.runs for r in run_ids)
    assert Pipeline.objects.get(pk=pipeline.pk).gone, "kept with its history, marked gone"
    assert not Schedule.objects.filter(external_id=pipeline.external_id).exists()
    assert set(Build.objects.filter(gone=True).values_list("external_id", flat=True)) == {
        f"{job.id}:{r}" for r in run_ids
    }
    jp_sim.clock.advance(120)
    assert len(jp_sim.runs) == sum(len(j.runs) for j in jp_sim.jobs.values()), "its schedule fires no more"


# Trigger and cancel ----------------------------------------------------------------------------
def test_triggering_answers_a_pending_run_and_leads_to_its_page(synced, jp_sim, adapter):
    job = support.job_named(jp_sim, "db-migrate")
    result = perform(adapter, "trigger_run", support.pipeline_of(job))

    run_id = job.runs[-1]
    assert result.show_build == f"{job.id}:{run_id}" and result.redirect is None
    build = Build.objects.get(external_id=f"{job.id}:{run_id}")
    assert (build.state, build.raw_state, build.triggered_by) == ("queued", "pending", "manual")
    assert build.jobs.get().state == "queued"


def test_cancelling_a_running_run_stops_it(synced, jp_sim, adapter):
    job = support.job_named(jp_sim, "backfill-events")
    perform(adapter, "trigger_run", support.pipeline_of(job))
    run = jp_sim.runs[job.runs[-1]]
    jp_sim.clock.advance(run.start - jp_sim.now() + 1)
    build = Build.objects.get(external_id=f"{job.id}:{run.id}")

    result = perform(adapter, "cancel_run", build)

    assert result.message == f"Run {short_id(run.id)} of backfill-events cancelled."
    build.refresh_from_db()
    assert (build.state, build.raw_state) == ("canceled", "cancelled")
    assert build.jobs.get().exit_code == 143
    cancel = adapter.action("cancel_run")
    assert cancel.destructive and not cancel.offered_for(build), "no Cancel button on a finished run"
    assert cancel.unavailable(build).startswith("The run is already cancelled")


def test_a_run_that_ended_before_the_cancel_arrived_shows_how_it_ended(synced, jp_sim, adapter):
    job = support.job_named(jp_sim, "backfill-events")
    perform(adapter, "trigger_run", support.pipeline_of(job))
    run = jp_sim.runs[job.runs[-1]]
    build = Build.objects.get(external_id=f"{job.id}:{run.id}")
    jp_sim.clock.advance(run.end - jp_sim.now() + 1)  # it ended; our copy still says queued

    result = perform(adapter, "cancel_run", build)

    assert result.message.startswith(f"Run {short_id(run.id)} of backfill-events had already {run.outcome}")
    assert "nothing was cancelled" in result.message and "only pending or running runs" in result.message
    build.refresh_from_db()
    assert build.raw_state == run.outcome and build.finished


def test_acting_on_a_job_the_platform_no_longer_has_says_not_found(synced, jp_sim, adapter, api):
    job = support.job_named(jp_sim, "db-migrate")
    api.delete_job(job.project_id, job.id)

    with pytest.raises(NotFound, match=f"Job {job.id} not found"):
        perform(adapter, "trigger_run", support.pipeline_of(job))


# Through the dashboard's action view -------------------------------------------------------------
def action_url(name: str, target: str, external_id: str) -> str:
    return reverse("action", args=["jobsplatform", "jp", name, target, external_id])


def test_the_action_view_refuses_a_wrong_confirmation_and_deletes_with_the_right_one(synced, jp_sim, client, operator):
    client.force_login(operator)
    job = support.job_named(jp_sim, "db-migrate")
    pipeline = support.pipeline_of(job)
    url = action_url("delete_job", "pipeline", pipeline.external_id)

    refused = client.post(url, {"confirm_name": "db-migrat", "confirm": "yes"})
    assert refused.status_code == 400
    assert "type &#x27;db-migrate&#x27; exactly" in refused.content.decode()
    assert job.id in jp_sim.jobs

    done = client.post(url, {"confirm_name": "db-migrate", "confirm": "yes"})
    assert done.status_code == 302
    assert job.id not in jp_sim.jobs
    assert Pipeline.objects.get(pk=pipeline.pk).gone, "kept with its history, marked gone"


def test_run_now_redirects_to_the_new_runs_page_and_env_values_stay_out_of_the_audit(synced, jp_sim, client, operator):
    client.force_login(operator)
    job = support.job_named(jp_sim, "db-migrate")
    answer = client.post(action_url("trigger_run", "pipeline", support.pipeline_of(job).external_id))
    assert answer.status_code == 302
    assert answer["Location"] == f"/jobsplatform/jp/build/{job.id}:{job.runs[-1]}"
    assert client.get(answer["Location"]).status_code == 200

    project = support.first_project(jp_sim)
    client.post(
        action_url("create_job", "project", project),
        {"name": "with-secret", "image": "alpine", "env_vars": "API_KEY=s3cr3t"},
    )
    entry = ActionLog.objects.get(action="create_job")
    assert entry.ok and entry.params["env_vars"] == {"API_KEY": "(hidden)"}  # names kept, values never
    assert "s3cr3t" not in str(entry.params)


def test_cancel_run_asks_for_confirmation_like_every_destructive_button(synced, jp_sim, client, operator):
    client.force_login(operator)
    job = support.job_named(jp_sim, "backfill-events")
    client.post(action_url("trigger_run", "pipeline", support.pipeline_of(job).external_id))
    build = Build.objects.get(external_id=f"{job.id}:{job.runs[-1]}")
    url = action_url("cancel_run", "build", build.external_id)

    page = client.get(build.get_absolute_url()).content.decode()
    assert f'href="{url}" data-action="cancel_run">Cancel run…</a>' in page, "a link to a confirmation"
    confirm = client.get(url).content.decode()
    assert "This cannot be undone. Please confirm." in confirm and 'name="confirm" value="yes"' in confirm
    unconfirmed = client.post(url)
    assert unconfirmed.status_code == 400 and not jp_sim.count("/cancel")

    done = client.post(url, {"confirm": "yes"})

    assert done.status_code == 302
    shown = client.get(done["Location"]).content.decode()
    assert "cancelled." in shown, "the answer, in words"
    build.refresh_from_db()
    assert build.state == "canceled", "the page shows the platform's new state at once"
    assert 'data-action="cancel_run"' not in shown, "no Cancel button once the run has ended"


def test_finished_runs_offer_no_cancel_button(synced, jp_sim, client, operator):
    client.force_login(operator)
    build = Build.objects.filter(state="passed").first()

    page = client.get(build.get_absolute_url()).content.decode()

    assert "cancel_run" not in page and "Cancel run" not in page


def test_cancel_through_the_view_of_a_finished_run_is_refused_before_asking_the_platform(
    synced, jp_sim, client, operator
):
    client.force_login(operator)
    build = Build.objects.filter(state="passed").first()
    jp_sim.requests.clear()

    answer = client.post(action_url("cancel_run", "build", build.external_id), {"confirm": "yes"})

    assert answer.status_code == 502
    assert "The run is already succeeded; only pending or running runs can be cancelled." in answer.content.decode()
    assert not [r for r in jp_sim.requests if r.path.endswith("/cancel")]
