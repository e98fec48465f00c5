"""prunner has no job status: ours is derived from its flags in prunner.md's order, and
tasks keep their six statuses as the raw state."""

from __future__ import annotations

import pytest

from dashboard.states import State
from providers.prunner.mapping import build_record, job_status, task_state
from providers.prunner.sim.plans import PipelineDef

from .support import call, custom_world, task

START = "2025-05-04T09:42:00Z"


@pytest.mark.parametrize(
    ("flags", "state"),
    [
        ({"canceled": True, "completed": True, "errored": True, "start": START}, State.CANCELED),
        ({"canceled": True, "completed": False}, State.CANCELED),  # cancelled while on the wait list
        ({"completed": True, "errored": True, "start": START}, State.FAILED),
        ({"completed": True, "errored": False, "start": START}, State.PASSED),
        ({"completed": False, "errored": True, "start": START}, State.RUNNING),  # a branch failed, others run
        ({"completed": False, "errored": False, "start": START}, State.RUNNING),
        ({"completed": False, "errored": False}, State.QUEUED),
        ({"completed": "yes", "start": "garbage"}, State.QUEUED),
    ],
)
def test_the_job_state_follows_the_documented_order(flags, state):
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

    job = call(prunner_sim, "GET", "/job/detail", params={"id": job_id}).json()
    assert (job["errored"], job["completed"]) == (True, False)
    record = build_record(job)
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
