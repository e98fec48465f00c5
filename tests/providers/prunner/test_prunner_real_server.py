"""What a person sees of prunner's quirks, end to end: the simulator answers as prunner
b692da9 does, a sync stores it, the pages show it (docs/providers/prunner.md, "As the
real server answers")."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

from dashboard.models import Build, Job
from dashboard.sync import sync_connection
from providers.prunner.sim.plans import PipelineDef, TaskDef

from .support import call, custom_world, task


def schedule(sim, pipeline: str, **body) -> str:
    response = call(sim, "POST", "/pipelines/schedule", json={"pipeline": pipeline, **body})
    assert response.status_code == 202, response.text
    return response.json()["jobId"]


def page(client, name: str, prunner, external_id: str, *extra: str) -> str:
    response = client.get(reverse(name, args=["prunner", prunner.slug, *extra, external_id]))
    assert response.status_code == 200
    return response.content.decode()


def panel(client, prunner, name: str, target: str, external_id: str) -> str:
    return page(client, "panel", prunner, external_id, name, target)


@pytest.fixture
def release(prunner_sim):
    """build, then migrate (fails at 10 s) beside assets (20 s), then publish."""
    custom_world(
        prunner_sim,
        PipelineDef(
            "release",
            (
                task("build", duration=5),
                task("migrate", "build", duration=5, fail=True),
                task("assets", "build", duration=20),
                task("publish", "migrate", "assets", duration=5),
            ),
        ),
    )
    return prunner_sim


def test_a_fail_fast_stop_is_a_failure_explained_by_the_tasks_own_error(prunner, release, clock, viewer_client):
    job_id = schedule(release, "release")
    clock.advance(12)
    answer = call(release, "GET", "/job/detail", params={"id": job_id}).json()
    assert (answer["canceled"], answer["lastError"]) == (True, "context canceled")  # what prunner says

    sync_connection(prunner.pk)

    build = Build.objects.get(external_id=job_id)
    tasks = {t.name: t for t in build.jobs.all()}
    assert build.state == "failed"
    assert {n: t.state for n, t in tasks.items()} == {
        "build": "passed",
        "assets": "canceled",
        "migrate": "failed",
        "publish": "skipped",
    }
    error = tasks["migrate"].raw["error"]
    html = page(viewer_client, "build", prunner, job_id)
    assert "Why it failed" in html and error in html
    assert "context canceled" not in html
    job_panel = panel(viewer_client, prunner, "job_panel", "job", tasks["migrate"].external_id)
    assert error in job_panel


def test_failed_and_stopped_tasks_end_with_their_job_never_still_running(prunner, release, clock):
    job_id = schedule(release, "release")
    clock.advance(12)
    sync_connection(prunner.pk)

    build = Build.objects.get(external_id=job_id)
    assert build.finished_at is not None
    for name in ("migrate", "assets"):
        stopped = build.jobs.get(name=name)
        assert stopped.raw["end"] is None  # prunner never records it
        assert stopped.finished_at == build.finished_at
    assert build.jobs.get(name="publish").finished_at is None  # it never ran


def test_exit_codes_prunner_does_not_know_are_not_shown(prunner, release, clock, viewer_client):
    job_id = schedule(release, "release")
    clock.advance(12)
    sync_connection(prunner.pk)

    passed = Job.objects.get(external_id=f"{job_id}:build")
    assert passed.raw["exitCode"] == -1 and passed.exit_code is None
    html = page(viewer_client, "build", prunner, job_id)
    assert "exit -1" not in html
    assert "exit -1" not in page(viewer_client, "job", prunner, passed.external_id)


def test_an_allowed_failure_is_shown_as_one(prunner, prunner_sim, clock, viewer_client):
    lint = TaskDef("lint", ("./lint.sh",), (), (4, 4), fail_rate=1.0, warn_rate=0.0, allow_failure=True)
    custom_world(prunner_sim, PipelineDef("ci", (lint, task("package", "lint", duration=4))))
    job_id = schedule(prunner_sim, "ci")
    clock.advance(9)
    sync_connection(prunner.pk)

    build = Build.objects.get(external_id=job_id)
    lint_job = build.jobs.get(name="lint")
    assert build.state == "passed"
    assert (lint_job.state, lint_job.allowed_failure, lint_job.raw_state) == ("failed", True, "done")
    assert lint_job.exit_code == lint_job.raw["exitCode"] > 0
    assert "soft-failed" in page(viewer_client, "build", prunner, job_id)
    assert "allows it to fail" in panel(viewer_client, prunner, "job_panel", "job", lint_job.external_id)


def test_a_tasks_error_is_shown_and_kept_after_prunner_restarts(prunner, prunner_sim, clock, viewer_client):
    custom_world(prunner_sim, PipelineDef("greet", (TaskDef("hello", ('echo "Hello {{ .missing }}"',)),)))
    job_id = schedule(prunner_sim, "greet")
    clock.advance(2)
    sync_connection(prunner.pk)
    hello = Job.objects.get(external_id=f"{job_id}:hello")
    words = 'map has no entry for key "missing"'
    assert hello.state == "failed" and words in hello.raw["error"]
    assert escape(words) in panel(viewer_client, prunner, "job_panel", "job", hello.external_id)

    prunner_sim.restart()  # prunner forgets every lastError
    Build.objects.filter(external_id=job_id).update(recheck_at="2000-01-01T00:00:00Z")  # due a look
    sync_connection(prunner.pk)

    build = Build.objects.get(external_id=job_id)
    assert words in build.raw["lastError"]
    assert words in Job.objects.get(pk=hello.pk).raw["error"]
    assert escape(words) in page(viewer_client, "build", prunner, job_id)


def test_a_running_job_prunner_forgets_is_no_longer_shown_running_nor_cancellable(
    prunner, prunner_sim, believe_deletions_at_once, operator_client
):
    custom_world(prunner_sim, PipelineDef("long", (task("a", duration=300),)))
    job_id = schedule(prunner_sim, "long")
    sync_connection(prunner.pk)
    assert Build.objects.get(external_id=job_id).state == "running"
    assert "Cancel job" in page(operator_client, "build", prunner, job_id)

    prunner_sim.restart(keep_store=False)
    sync_connection(prunner.pk)
    sync_connection(prunner.pk)

    build = Build.objects.get(external_id=job_id)
    assert build.gone and build.state == "unknown"
    html = page(operator_client, "build", prunner, job_id)
    assert "Cancel job" not in html and "no longer has this build" in html


def test_a_running_job_prunner_restarts_under_is_canceled_with_an_unknown_end(prunner, prunner_sim, clock):
    custom_world(prunner_sim, PipelineDef("long", (task("a", duration=300),)))
    job_id = schedule(prunner_sim, "long")
    clock.advance(5)
    sync_connection(prunner.pk)

    prunner_sim.restart()
    sync_connection(prunner.pk)

    build = Build.objects.get(external_id=job_id)
    task_a = build.jobs.get(name="a")
    assert (build.state, build.finished_at) == ("canceled", None)
    assert (task_a.state, task_a.finished_at) == ("canceled", None)


def test_a_pipeline_without_a_queue_says_so_in_words(prunner, prunner_sim, viewer_client, operator_client):
    sync_connection(prunner.pk)
    html = page(viewer_client, "pipeline", prunner, "rollback")
    assert "queue_limit: 0" in html and "concurrency limit" not in html
    assert "queue_limit: 0" in page(operator_client, "pipeline", prunner, "rollback")  # beside the disabled button
