"""The schedule and cancel buttons against the simulator (docs/providers/prunner.md,
"Schedule" and "Cancel"), and the schedule form's variables."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dashboard.actions import run_action
from dashboard.models import Build, Pipeline
from dashboard.sync import apply_batch, sync_connection
from providers.base.errors import NotFound, Rejected
from providers.prunner.actions import NO_QUEUE, QUEUE_FULL, ScheduleForm, actions, parse_variables
from providers.prunner.adapter import PrunnerAdapter
from providers.prunner.mapping import OURS
from providers.prunner.sim.plans import PipelineDef

from .support import call, custom_world, task


@pytest.fixture
def adapter(prunner):
    adapter = PrunnerAdapter(prunner)
    yield adapter
    adapter.close()


def press(adapter, name: str, target, user, **data):
    action = actions.get(name)
    params = {}
    if action.form is not None:
        form = action.form(data=data)
        assert form.is_valid(), form.errors
        params = form.cleaned_data
    return adapter.perform(action, target, params, user)


def detail(sim, job_id: str) -> dict:
    return call(sim, "GET", "/job/detail", params={"id": job_id}).json()


def test_variables_are_text_unless_they_read_as_json():
    assert parse_variables(
        """
        # a comment
        tag_name = v1.17.4
        databases=["mysql", "postgresql"]
        limits={"cpu": 2, "ram": "4G"}
        retries=3
        ratio=0.5
        dry_run=false
        version="1.10"
        note=hello = world
        empty=
        nothing=null
        """
    ) == {
        "tag_name": "v1.17.4",
        "databases": ["mysql", "postgresql"],
        "limits": {"cpu": 2, "ram": "4G"},
        "retries": 3,
        "ratio": 0.5,
        "dry_run": False,
        "version": "1.10",
        "note": "hello = world",
        "empty": "",
        "nothing": "null",
    }


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("just words", "Line 1: write name=value."),
        ("a=1\nbad name=2", "Line 2: 'bad name' is not a usable variable name"),
        ("a=1\na=2", "Line 2: a is given twice."),
        ("__jobID=x", "reserved by prunner"),
    ],
)
def test_bad_variable_lines_are_refused_naming_the_line(text, words):
    form = ScheduleForm(data={"variables": text})
    assert not form.is_valid()
    assert words in form.errors["variables"][0]


def test_scheduling_starts_a_job_with_the_variables_and_the_acting_user(prunner, prunner_sim, operator):
    sync_connection(prunner.pk)
    pipeline = Pipeline.objects.get(name="deploy")
    form = ScheduleForm(
        data={"variables": 'tag_name=v1.17.4\nenvironments=["staging", "production"]\nlimits={"cpu": 2}\ncanary=true'}
    )
    assert form.is_valid()

    outcome = run_action(operator, prunner, actions.get("schedule"), pipeline, form.cleaned_data)

    job_id = outcome.result.show_build
    build = Build.objects.get(external_id=job_id)
    assert outcome.result.redirect == build.get_absolute_url() == f"/prunner/prunner-acme/build/{job_id}"
    job = detail(prunner_sim, job_id)
    assert job["variables"] == {
        "tag_name": "v1.17.4",
        "environments": ["staging", "production"],
        "limits": {"cpu": 2},
        "canary": True,
    }
    assert job["user"] == "otto" and job["start"]
    assert "Scheduled deploy" in outcome.message and "running" in outcome.message
    assert (build.state, build.triggered_by, build.jobs.count()) == ("running", "otto", 4)
    assert Pipeline.objects.get(name="deploy").raw == {"schedulable": True, "running": True, "waiting": 0}


def test_a_pipeline_without_a_queue_is_shown_refused_in_words_even_when_idle(prunner, prunner_sim, adapter, operator):
    sync_connection(prunner.pk)
    rollback = Pipeline.objects.get(name="rollback")
    assert rollback.raw["running"] is False
    assert actions.get("schedule").unavailable(rollback) == NO_QUEUE
    assert "concurrency limit" not in NO_QUEUE

    with pytest.raises(Rejected) as refused:  # pressed anyway (a stale page): prunner's words, once
        press(adapter, "schedule", rollback, operator, variables="tag_name=v1")
    assert str(refused.value) == "Error scheduling pipeline: concurrency exceeded and queueing disabled for pipeline"


def test_a_full_wait_list_is_shown_in_words(prunner, prunner_sim, adapter, operator):
    custom_world(prunner_sim, PipelineDef("q", (task("t", duration=60),), queue_limit=1))
    sync_connection(prunner.pk)
    q = Pipeline.objects.get(name="q")
    assert actions.get("schedule").unavailable(q) == ""
    press(adapter, "schedule", q, operator)
    result = press(adapter, "schedule", q, operator)
    apply_batch(prunner, result.refresh)

    q.refresh_from_db()
    assert q.raw == {"schedulable": False, "running": True, "waiting": 1}
    assert actions.get("schedule").unavailable(q) == QUEUE_FULL.format(waiting=1)


def test_a_busy_pipeline_with_a_queue_takes_the_job_as_queued(prunner, prunner_sim, adapter, operator):
    sync_connection(prunner.pk)
    render = Pipeline.objects.get(name="render_content")
    press(adapter, "schedule", render, operator, variables="node=/sites/home")
    result = press(adapter, "schedule", render, operator, variables="node=/sites/blog")
    assert "queued" in result.message
    assert next(b for b in result.refresh.builds if b.external_id == result.show_build).state == "queued"


def test_the_queue_partition_is_sent_when_given(prunner, prunner_sim, adapter, operator):
    sync_connection(prunner.pk)
    target = Pipeline.objects.get(name="import_tenant")
    first = press(adapter, "schedule", target, operator, variables="tenant=a", queue_partition="a")
    second = press(adapter, "schedule", target, operator, variables="tenant=a", queue_partition=" a ")
    assert prunner_sim.world.jobs[second.show_build].partition == "a"
    assert detail(prunner_sim, first.show_build)["canceled"] is True  # replaced in partition "a"


def test_cancelling_a_running_job(prunner, prunner_sim, adapter, operator):
    sync_connection(prunner.pk)
    result = press(adapter, "schedule", Pipeline.objects.get(name="nightly_cleanup"), operator)
    apply_batch(prunner, result.refresh)
    build = Build.objects.get(external_id=result.show_build)
    action = actions.get("cancel")
    assert action.destructive and action.offered_for(build) and action.label == "Cancel job"

    cancelled = press(adapter, "cancel", build, operator)

    assert cancelled.message == "prunner canceled the job."
    apply_batch(prunner, cancelled.refresh)
    build.refresh_from_db()
    assert build.state == "canceled" and build.finished and build.raw[OURS] == {"canceled_by": "otto"}
    assert not action.offered_for(build)
    assert {j.state for j in build.jobs.all()} <= {"canceled", "passed"}


def test_a_job_we_cancelled_stays_canceled_even_when_a_task_had_failed(prunner, prunner_sim, adapter, operator, clock):
    custom_world(
        prunner_sim,
        PipelineDef(
            "import",
            (task("customers", duration=2, fail=True), task("products", duration=60)),
            continue_running_tasks_after_failure=True,
        ),
    )
    sync_connection(prunner.pk)
    job_id = press(adapter, "schedule", Pipeline.objects.get(name="import"), operator).show_build
    clock.advance(5)
    sync_connection(prunner.pk)
    build = Build.objects.get(external_id=job_id)
    assert (build.state, build.raw_state) == ("running", "started/errored")

    apply_batch(prunner, press(adapter, "cancel", build, operator).refresh)
    sync_connection(prunner.pk)

    build.refresh_from_db()
    assert build.state == "canceled"
    assert build.jobs.get(name="customers").state == "failed"


def test_cancelling_a_job_that_has_ended_says_so_once_and_shows_how_it_ended(prunner, prunner_sim, adapter, operator):
    custom_world(prunner_sim, PipelineDef("short", (task("t", duration=5),)))
    sync_connection(prunner.pk)
    job_id = press(adapter, "schedule", Pipeline.objects.get(name="short"), operator).show_build
    sync_connection(prunner.pk)
    build = Build.objects.get(external_id=job_id)
    assert build.state == "running"
    prunner_sim.clock.advance(10)  # it ends before anyone presses Cancel

    with pytest.raises(Rejected) as refused:
        press(adapter, "cancel", build, operator)

    assert str(refused.value) == "the job had already ended (passed), so there was nothing to cancel."
    assert prunner_sim.count("/job/cancel") == 1  # a refusal is not retried
    apply_batch(prunner, refused.value.refresh)
    build.refresh_from_db()
    assert build.state == "passed"


def test_the_refusal_reads_once_on_the_page(prunner, prunner_sim, operator_client):
    custom_world(prunner_sim, PipelineDef("short", (task("t", duration=5),)))
    job_id = call(prunner_sim, "POST", "/pipelines/schedule", json={"pipeline": "short"}).json()["jobId"]
    sync_connection(prunner.pk)
    prunner_sim.clock.advance(10)
    url = reverse("action", args=["prunner", prunner.slug, "cancel", "build", job_id])

    page = operator_client.post(url, {"confirm": "yes"}).content.decode()

    assert page.count("had already ended") == 1
    assert "refused: prunner refused" not in page.lower()


def test_the_cancel_confirmation_names_its_button_after_the_job(prunner, prunner_sim, operator_client):
    job_id = call(prunner_sim, "POST", "/pipelines/schedule", json={"pipeline": "nightly_cleanup"}).json()["jobId"]
    sync_connection(prunner.pk)
    url = reverse("action", args=["prunner", prunner.slug, "cancel", "build", job_id])

    page = operator_client.get(url).content.decode()

    assert '<button type="submit" class="danger">Cancel job</button>' in page


def test_cancelling_a_job_prunner_dropped_says_so(prunner, prunner_sim, adapter, operator, clock):
    sync_connection(prunner.pk)
    oldest = Build.objects.order_by("created_at").first()
    clock.advance(400)
    with pytest.raises(NotFound, match="no longer has this job"):
        press(adapter, "cancel", oldest, operator)


def test_cancel_is_not_offered_for_a_build_prunner_no_longer_has(prunner, prunner_sim):
    sync_connection(prunner.pk)
    running = Build.objects.filter(state="running").first() or Build.objects.first()
    running.gone = True
    assert not actions.get("cancel").offered_for(running)
