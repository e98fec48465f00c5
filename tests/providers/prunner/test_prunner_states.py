"""prunner has no job status: ours is derived from its flags and its tasks, correcting
what the real server reports (docs/providers/prunner.md, "Job state"); tasks keep their
six statuses as the raw state."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dashboard.states import State
from providers.prunner.mapping import OURS, build_record, job_status, task_state
from providers.prunner.sim.plans import PipelineDef

from .support import call, custom_world, task

START, END = "2025-05-04T09:42:00Z", "2025-05-04T09:43:20Z"
FAILED = {"name": "migrate", "status": "error", "errored": True, "exitCode": 1, "error": "exit status 1"}
KILLED = {"name": "assets", "status": "canceled", "errored": False, "exitCode": -1}


@pytest.mark.parametrize(
    ("flags", "state"),
    [
        ({"canceled": True, "completed": True, "errored": False, "start": START}, State.CANCELED),
        ({"canceled": True, "completed": False}, State.CANCELED),  # cancelled while on the wait list
        ({"completed": True, "errored": True, "start": START}, State.FAILED),
        ({"completed": True, "errored": False, "start": START}, State.PASSED),
        ({"completed": False, "errored": True, "start": START}, State.RUNNING),  # a branch failed, others run
        ({"completed": False, "errored": False, "start": START}, State.RUNNING),
        ({"completed": False, "errored": False, "start": None}, State.QUEUED),
        ({"completed": "yes", "start": "garbage"}, State.QUEUED),
        # Fail-fast: prunner reports the stop of the siblings as a cancel; a task failed.
        ({"canceled": True, "completed": True, "errored": True, "tasks": [FAILED, KILLED]}, State.FAILED),
        ({"canceled": True, "completed": True, "tasks": [FAILED]}, State.FAILED),
        # A restart cancels a running job that had a failed branch: it failed.
        ({"canceled": True, "completed": False, "errored": True, "start": START}, State.FAILED),
        # We canceled it ourselves: canceled, whatever a killed task reported.
        ({"canceled": True, "completed": True, "errored": True, OURS: {"canceled_by": "otto"}}, State.CANCELED),
    ],
)
def test_the_job_state_follows_the_documented_rules(flags, state):
    assert job_status(flags)[0] == state


@pytest.mark.parametrize(
    ("status", "job_state", "state"),
    [
        ("waiting", State.QUEUED, State.QUEUED),
        ("running", State.RUNNING, State.RUNNING),
        ("skipped", State.PASSED, State.SKIPPED),
        ("done", State.PASSED, State.PASSED),
        ("error", State.FAILED, State.FAILED),
        ("canceled", State.FAILED, State.CANCELED),
        ("waiting", State.FAILED, State.SKIPPED),  # fail-fast left it waiting: it will never run
        ("waiting", State.CANCELED, State.CANCELED),
        ("paused", State.RUNNING, State.UNKNOWN),
    ],
)
def test_task_statuses_map_to_neutral_states(status, job_state, state):
    assert task_state(status, job_state) == state


def job(*tasks: dict, **flags) -> dict:
    return {"id": "52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8", "pipeline": "p", "created": START, "tasks": list(tasks)} | {
        "start": START,
        "end": None,
        **flags,
    }


def test_exit_code_minus_one_is_not_known_and_only_tasks_that_ran_have_one():
    record = build_record(
        job(
            {"name": "passed", "status": "done", "exitCode": -1, "start": START, "end": END},
            {"name": "zero", "status": "done", "exitCode": 0, "start": START, "end": END},
            {"name": "failed", "status": "error", "exitCode": 2, "errored": True, "start": START, "end": None},
            {"name": "template", "status": "error", "exitCode": -1, "errored": True, "start": START},
            {"name": "running", "status": "running", "exitCode": -1, "start": START},
            {"name": "waiting", "status": "waiting", "exitCode": 0},
            {"name": "killed", "status": "canceled", "exitCode": -1, "start": START},
            {"name": "never", "status": "canceled", "exitCode": 0},
        )
    )
    assert {t.name: t.exit_code for t in record.jobs} == {
        "passed": None,
        "zero": 0,
        "failed": 2,
        "template": None,
        "running": None,
        "waiting": None,
        "killed": None,
        "never": None,
    }


def test_an_allowed_failure_is_failed_allowed_and_keeps_its_exit_code():
    record = build_record(
        job(
            {"name": "lint", "status": "done", "exitCode": 3, "errored": False, "start": START, "end": END},
            {"name": "package", "status": "done", "exitCode": -1, "start": START, "end": END},
            completed=True,
            end=END,
        )
    )
    lint, package = record.jobs
    assert (lint.state, lint.allowed_failure, lint.exit_code, lint.raw_state) == (State.FAILED, True, 3, "done")
    assert (package.state, package.allowed_failure) == (State.PASSED, False)
    assert record.state == State.PASSED


def test_a_task_of_a_finished_job_ends_no_later_than_its_job():
    later = "2025-05-04T09:50:00Z"
    record = build_record(
        job(
            {"name": "migrate", "status": "error", "errored": True, "exitCode": 1, "start": START, "end": None},
            {"name": "assets", "status": "canceled", "exitCode": -1, "start": START, "end": None},
            {"name": "odd", "status": "done", "exitCode": -1, "start": START, "end": later},
            {"name": "publish", "status": "waiting", "exitCode": 0, "start": None, "end": None},
            completed=True,
            canceled=True,
            errored=True,
            end=END,
        )
    )
    ends = {t.name: t.finished_at for t in record.jobs}
    job_end = datetime(2025, 5, 4, 9, 43, 20, tzinfo=UTC)
    assert ends == {"migrate": job_end, "assets": job_end, "odd": job_end, "publish": None}
    assert record.state == State.FAILED


def test_a_task_whose_end_nobody_knows_has_none():
    # Still running elsewhere: a failed branch has no end yet.
    running = build_record(
        job({"name": "migrate", "status": "error", "errored": True, "exitCode": 1, "start": START, "end": None})
    )
    assert running.state == State.RUNNING and running.jobs[0].finished_at is None
    # Canceled by a prunner restart: the job never got an end either.
    restored = build_record(
        job({"name": "a", "status": "canceled", "exitCode": -1, "start": START, "end": None}, canceled=True)
    )
    assert restored.state == State.CANCELED and restored.jobs[0].finished_at is None


def test_what_prunner_forgot_is_kept_from_what_we_stored():
    stored = job(
        {"name": "migrate", "status": "error", "errored": True, "exitCode": 1, "error": "exit status 1"},
        completed=True,
        errored=True,
        lastError="exit status 1",
    ) | {OURS: {"canceled_by": "otto"}}
    after_restart = job(
        {"name": "migrate", "status": "error", "errored": True, "exitCode": 1}, completed=True, errored=True
    )

    record = build_record(after_restart, held_raw=stored)

    assert record.raw["lastError"] == "exit status 1"
    assert record.raw[OURS] == {"canceled_by": "otto"}
    assert record.jobs[0].raw["error"] == "exit status 1"


def test_an_answer_without_tasks_is_read_again_not_taken_as_none():
    without = job()
    del without["tasks"]
    assert build_record(without).jobs is None
    assert build_record(job()).jobs is None  # a prunner job always has tasks
    stored = job({"name": "a", "status": "running", "exitCode": -1, "start": START})
    kept = build_record(without, held_raw=stored)
    assert kept.jobs is None and kept.raw["tasks"] == stored["tasks"]


def test_a_job_with_a_failed_branch_is_running_until_the_others_finish(prunner_sim, clock):
    custom_world(
        prunner_sim,
        PipelineDef(
            "import",
            (
                task("fetch", duration=2),
                task("customers", "fetch", duration=5, fail=True),
                task("products", "fetch", duration=30),
            ),
            continue_running_tasks_after_failure=True,
        ),
    )
    job_id = call(prunner_sim, "POST", "/pipelines/schedule", json={"pipeline": "import"}).json()["jobId"]
    clock.advance(10)

    answer = call(prunner_sim, "GET", "/job/detail", params={"id": job_id}).json()
    assert (answer["errored"], answer["completed"]) == (True, False)
    record = build_record(answer)
    assert (record.state, record.raw_state) == (State.RUNNING, "started/errored")
    tasks = {t.name: (t.state, t.raw_state, t.exit_code) for t in record.jobs}
    code = tasks["customers"][2]
    assert tasks["customers"] == (State.FAILED, "error", code) and code > 0
    assert tasks["products"] == (State.RUNNING, "running", None)

    clock.advance(30)
    record = build_record(call(prunner_sim, "GET", "/job/detail", params={"id": job_id}).json())
    assert (record.state, record.raw_state) == (State.FAILED, "completed/errored")
    assert record.raw["lastError"] == f"exit status {code}"


def test_a_cancelled_queued_job_is_cancelled_with_its_tasks(prunner_sim):
    custom_world(prunner_sim, PipelineDef("one", (task("a", duration=60),)))
    call(prunner_sim, "POST", "/pipelines/schedule", json={"pipeline": "one"})
    queued = call(prunner_sim, "POST", "/pipelines/schedule", json={"pipeline": "one"}).json()["jobId"]
    call(prunner_sim, "POST", "/job/cancel", params={"id": queued})

    record = build_record(call(prunner_sim, "GET", "/job/detail", params={"id": queued}).json())
    assert record.state == State.CANCELED and record.started_at is None
    assert [(t.state, t.raw_state) for t in record.jobs] == [(State.CANCELED, "waiting")]
