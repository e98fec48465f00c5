"""The schedule and cancel buttons, pressed through ``adapter.perform`` against the
simulator, and the schedule form's variables."""

from __future__ import annotations

import pytest

from dashboard.models import Build, Pipeline
from dashboard.sync import apply_batch, sync_connection
from providers.base.errors import NotFound, Rejected
from providers.prunner.adapter import NOT_SCHEDULABLE, PrunnerAdapter
from providers.prunner.forms import ScheduleForm, parse_variables

from .support import call


@pytest.fixture
def adapter(prunner):
    adapter = PrunnerAdapter(prunner)
    yield adapter
    adapter.close()


def press(adapter, name: str, target, user, **data):
    action = adapter.action(name)
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


def test_scheduling_starts_a_job_with_the_variables_and_the_acting_user(prunner, prunner_sim, adapter, operator):
    sync_connection(prunner.pk)
    pipeline = Pipeline.objects.get(name="deploy")

    result = press(
        adapter,
        "schedule",
        pipeline,
        operator,
        variables='tag_name=v1.17.4\ndatabases=["mysql", "postgresql"]\nlimits={"cpu": 2}\ncanary=true',
    )

    job_id = result.redirect.rsplit("/", 1)[-1]
    assert result.redirect == f"/prunner/prunner-acme/build/{job_id}"
    job = detail(prunner_sim, job_id)
    assert job["variables"] == {
        "tag_name": "v1.17.4",
        "databases": ["mysql", "postgresql"],
        "limits": {"cpu": 2},
        "canary": True,
    }
    assert job["user"] == "otto" and "start" in job
    assert "Scheduled deploy" in result.message and "running" in result.message

    apply_batch(prunner, result.refresh)
    build = Build.objects.get(external_id=job_id)
    assert (build.state, build.triggered_by, build.jobs.count()) == ("running", "otto", 4)
    assert Pipeline.objects.get(name="deploy").raw == {"schedulable": False, "running": True}


def test_a_pipeline_prunner_would_refuse_is_shown_disabled_with_the_reason(prunner, prunner_sim, adapter, operator):
    sync_connection(prunner.pk)
    deploy = Pipeline.objects.get(name="deploy")
    action = adapter.action("schedule")
    assert action.unavailable(deploy) == ""

    result = press(adapter, "schedule", deploy, operator)
    apply_batch(prunner, result.refresh)
    deploy.refresh_from_db()
    assert action.unavailable(deploy) == NOT_SCHEDULABLE

    with pytest.raises(Rejected) as refused:  # pressed anyway (a stale page): prunner's words
        press(adapter, "schedule", deploy, operator)
    assert str(refused.value) == (
        "prunner refused: Error scheduling pipeline: concurrency exceeded and queueing disabled for pipeline"
    )


def test_a_busy_pipeline_with_a_queue_takes_the_job_as_queued(prunner, prunner_sim, adapter, operator):
    sync_connection(prunner.pk)
    render = Pipeline.objects.get(name="render_content")
    press(adapter, "schedule", render, operator)
    result = press(adapter, "schedule", render, operator, variables="node=/sites/blog")
    assert "queued" in result.message
    assert result.refresh.builds[0].state == "queued"


def test_the_queue_partition_is_sent_when_given(prunner, prunner_sim, adapter, operator):
    sync_connection(prunner.pk)
    target = Pipeline.objects.get(name="import_tenant")
    first = press(adapter, "schedule", target, operator, variables="tenant=a", queue_partition="a")
    second = press(adapter, "schedule", target, operator, variables="tenant=a", queue_partition=" a ")
    first_id, second_id = (r.redirect.rsplit("/", 1)[-1] for r in (first, second))
    assert prunner_sim.world.jobs[second_id].partition == "a"
    assert detail(prunner_sim, first_id)["canceled"] is True  # replaced in partition "a"


def test_cancelling_a_running_job(prunner, prunner_sim, adapter, operator):
    sync_connection(prunner.pk)
    result = press(adapter, "schedule", Pipeline.objects.get(name="nightly_cleanup"), operator)
    apply_batch(prunner, result.refresh)
    build = Build.objects.get(external_id=result.redirect.rsplit("/", 1)[-1])
    action = adapter.action("cancel")
    assert action.destructive and action.offered_for(build)

    cancelled = press(adapter, "cancel", build, operator)

    assert cancelled.message == "prunner canceled the job."
    apply_batch(prunner, cancelled.refresh)
    build.refresh_from_db()
    assert build.state == "canceled" and build.finished
    assert not action.offered_for(build)
    assert {j.state for j in build.jobs.all()} <= {"canceled", "passed"}


def test_cancelling_a_finished_job_is_refused_in_words(prunner, prunner_sim, adapter, operator):
    sync_connection(prunner.pk)
    finished = Build.objects.filter(state="passed").first()
    with pytest.raises(Rejected) as refused:
        press(adapter, "cancel", finished, operator)
    assert "the job has already completed" in str(refused.value)
    assert prunner_sim.count("/job/cancel") == 1  # a refusal is not retried


def test_cancelling_a_job_prunner_dropped_says_so(prunner, prunner_sim, adapter, operator, clock):
    sync_connection(prunner.pk)
    oldest = Build.objects.order_by("created_at").first()
    clock.advance(400)
    with pytest.raises(NotFound, match="no longer has this job"):
        press(adapter, "cancel", oldest, operator)
