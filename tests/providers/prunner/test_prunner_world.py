"""The simulated prunner's scheduler over real HTTP, as the real server (b692da9) answers
(docs/providers/prunner.md, "As the real server answers"): task graphs over time,
fail-fast and continue-after-failure, allowed failures, on_error, cancellation,
concurrency, wait lists, retention and restarts."""

from __future__ import annotations

from providers.base.sim import Scale
from providers.prunner.sim import PrunnerSimulator
from providers.prunner.sim.plans import PipelineDef, TaskDef
from providers.prunner.sim.world import NO_QUEUE, QUEUE_FULL

from .support import SECRET, call, custom_world, task

ON_ERROR = task("on_error", duration=3)


def schedule(sim, pipeline: str, **body) -> str:
    response = call(sim, "POST", "/pipelines/schedule", json={"pipeline": pipeline, **body})
    assert response.status_code == 202, response.text
    return response.json()["jobId"]


def detail(sim, job_id: str) -> dict:
    return call(sim, "GET", "/job/detail", params={"id": job_id}).json()


def statuses(job: dict) -> dict[str, str]:
    return {t["name"]: t["status"] for t in job["tasks"]}


def pipeline(sim, name: str) -> dict:
    return next(p for p in call(sim, "GET", "/pipelines/").json()["pipelines"] if p["pipeline"] == name)


def release(**kw) -> PipelineDef:
    return PipelineDef(
        "release",
        (
            task("build", duration=5),
            task("migrate", "build", duration=5, fail=True),
            task("assets", "build", duration=20),
            task("publish", "migrate", "assets", duration=5),
        ),
        **kw,
    )


def test_tasks_run_in_dependency_order_over_time(prunner_sim, clock):
    custom_world(prunner_sim, release())
    job_id = schedule(prunner_sim, "release")
    job = detail(prunner_sim, job_id)
    assert [t["name"] for t in job["tasks"]] == ["build", "assets", "migrate", "publish"]  # rank, then name
    assert statuses(job) == {"build": "running", "assets": "waiting", "migrate": "waiting", "publish": "waiting"}
    assert job["tasks"][3]["dependsOn"] == ["migrate", "assets"]
    clock.advance(6)
    assert statuses(detail(prunner_sim, job_id)) == {
        "build": "done",
        "assets": "running",
        "migrate": "running",
        "publish": "waiting",
    }


def test_fail_fast_kills_running_tasks_reports_a_cancel_and_runs_on_error(prunner_sim, clock):
    custom_world(prunner_sim, release(on_error=ON_ERROR))
    job_id = schedule(prunner_sim, "release")
    clock.advance(10.5)  # migrate failed at 10s, while assets ran

    job = detail(prunner_sim, job_id)
    assert statuses(job) == {
        "build": "done",
        "assets": "canceled",
        "migrate": "error",
        "publish": "waiting",
        "on_error": "running",
    }
    assert (job["errored"], job["completed"], job["canceled"]) == (True, False, False)
    tasks = {t["name"]: t for t in job["tasks"]}
    code = tasks["migrate"]["exitCode"]
    assert tasks["migrate"]["start"] and {k: v for k, v in tasks["migrate"].items() if k != "start"} == {
        "name": "migrate",
        "dependsOn": ["build"],
        "status": "error",
        "end": None,  # a failed task never gets an end
        "skipped": False,
        "exitCode": code,
        "errored": True,
        "error": f"exit status {code}",
    }
    assert code > 0
    assets = tasks["assets"]
    assert (assets["exitCode"], assets["end"], assets["errored"]) == (-1, None, False) and "error" not in assets
    assert tasks["build"]["exitCode"] == -1 and tasks["build"]["end"]  # passed: an end, no exit code recorded
    assert tasks["publish"] == {
        "name": "publish",
        "dependsOn": ["migrate", "assets"],
        "status": "waiting",
        "start": None,
        "end": None,
        "skipped": False,
        "exitCode": 0,
        "errored": False,
    }

    clock.advance(3)
    job = detail(prunner_sim, job_id)
    # The killed sibling's "context canceled" is the job's last error, and makes it canceled.
    assert (job["completed"], job["canceled"], job["errored"]) == (True, True, True)
    assert job["lastError"] == "context canceled"
    logs = call(prunner_sim, "GET", "/job/logs", params={"id": job_id, "task": "on_error"}).json()
    assert "$ ./on_error.sh" in logs["stdout"]


def test_a_failure_with_nothing_else_running_is_not_reported_as_a_cancel(prunner_sim, clock):
    custom_world(prunner_sim, PipelineDef("seq", (task("a", duration=5), task("b", "a", duration=5, fail=True))))
    job_id = schedule(prunner_sim, "seq")
    clock.advance(11)

    job = detail(prunner_sim, job_id)
    assert (job["completed"], job["canceled"], job["errored"]) == (True, False, True)
    assert job["lastError"] == job["tasks"][1]["error"] == f"exit status {job['tasks'][1]['exitCode']}"


def test_an_allowed_failure_is_done_with_its_real_exit_code(prunner_sim, clock):
    lint = TaskDef("lint", ("./lint.sh",), (), (4, 4), fail_rate=1.0, warn_rate=0.0, allow_failure=True)
    custom_world(prunner_sim, PipelineDef("ci", (lint, task("package", "lint", duration=4))))
    job_id = schedule(prunner_sim, "ci")
    clock.advance(9)

    job = detail(prunner_sim, job_id)
    tasks = {t["name"]: t for t in job["tasks"]}
    assert tasks["lint"]["status"] == "done" and tasks["lint"]["exitCode"] > 0
    assert tasks["lint"]["errored"] is False and "error" not in tasks["lint"] and tasks["lint"]["end"]
    assert tasks["package"]["status"] == "done"  # the job went on
    assert (job["completed"], job["canceled"], job["errored"]) == (True, False, False)


def test_a_variable_the_job_was_not_given_fails_its_task_with_gos_words(prunner_sim, clock):
    custom_world(prunner_sim, PipelineDef("greet", (TaskDef("hello", ('echo "Hello {{ .missing }}"',)),)))
    job_id = schedule(prunner_sim, "greet")
    clock.advance(1)

    hello = detail(prunner_sim, job_id)["tasks"][0]
    assert (hello["status"], hello["exitCode"], hello["errored"], hello["end"]) == ("error", -1, True, None)
    assert hello["error"] == (
        'template: interpolate:1:15: executing "interpolate" at <.missing>: map has no entry for key "missing"'
    )


def test_continue_after_failure_cancels_only_the_dependents(prunner_sim, clock):
    custom_world(prunner_sim, release(continue_running_tasks_after_failure=True))
    job_id = schedule(prunner_sim, "release")
    clock.advance(11)

    job = detail(prunner_sim, job_id)
    assert statuses(job) == {"build": "done", "assets": "running", "migrate": "error", "publish": "canceled"}
    publish = job["tasks"][3]
    assert (publish["start"], publish["end"], publish["exitCode"]) == (None, None, 0)  # it never ran
    clock.advance(15)
    job = detail(prunner_sim, job_id)
    assert statuses(job)["assets"] == "done"
    assert (job["completed"], job["canceled"]) == (True, False)
    assert job["lastError"] == job["tasks"][2]["error"] and job["lastError"].startswith("exit status ")


def test_cancelling_a_running_job_kills_its_tasks(prunner_sim, clock):
    custom_world(prunner_sim, PipelineDef("long", (task("a", duration=50), task("b", "a"))))
    job_id = schedule(prunner_sim, "long")
    clock.advance(5)
    assert call(prunner_sim, "POST", "/job/cancel", params={"id": job_id}).json() is True

    job = detail(prunner_sim, job_id)
    assert (job["canceled"], job["completed"], job["errored"]) == (True, True, False)
    assert job["lastError"] == "context canceled"
    assert statuses(job) == {"a": "canceled", "b": "waiting"}
    assert (job["tasks"][0]["end"], job["tasks"][0]["exitCode"]) == (None, -1)
    assert call(prunner_sim, "POST", "/job/cancel", params={"id": job_id}).json() is True  # again: fine


def test_a_pipeline_without_a_queue_is_refused_always_even_when_idle(prunner_sim, clock):
    custom_world(prunner_sim, PipelineDef("deploy", (task("go", duration=20),), queue_limit=0))
    assert pipeline(prunner_sim, "deploy") == {"pipeline": "deploy", "schedulable": False, "running": False}

    refused = call(prunner_sim, "POST", "/pipelines/schedule", json={"pipeline": "deploy"})
    assert (refused.status_code, refused.json()) == (400, {"error": f"Error scheduling pipeline: {NO_QUEUE}"})
    clock.advance(60)
    assert pipeline(prunner_sim, "deploy")["schedulable"] is False


def test_a_full_append_queue_refuses_and_the_queue_starts_when_a_slot_frees(prunner_sim, clock):
    custom_world(prunner_sim, PipelineDef("q", (task("t", duration=10),), queue_limit=1))
    first = schedule(prunner_sim, "q")
    second = schedule(prunner_sim, "q")
    assert detail(prunner_sim, second)["start"] is None
    refused = call(prunner_sim, "POST", "/pipelines/schedule", json={"pipeline": "q"})
    assert refused.json() == {"error": f"Error scheduling pipeline: {QUEUE_FULL}"}
    assert pipeline(prunner_sim, "q")["schedulable"] is False

    clock.advance(12)
    assert detail(prunner_sim, first)["completed"] is True
    assert detail(prunner_sim, second)["start"] == detail(prunner_sim, first)["end"]


def test_a_job_cancelled_while_waiting_keeps_its_place_on_the_wait_list(prunner_sim, clock):
    custom_world(prunner_sim, PipelineDef("q", (task("t", duration=10),), queue_limit=1))
    schedule(prunner_sim, "q")
    waiting = schedule(prunner_sim, "q")
    call(prunner_sim, "POST", "/job/cancel", params={"id": waiting})

    assert detail(prunner_sim, waiting)["canceled"] is True
    # prunner b692da9 never takes a cancelled job off its wait list: the queue stays full.
    assert pipeline(prunner_sim, "q")["schedulable"] is False
    clock.advance(12)
    assert pipeline(prunner_sim, "q")["schedulable"] is False


def test_a_restart_with_its_store_cancels_running_jobs_for_good_and_forgets_last_errors(prunner_sim, clock):
    custom_world(
        prunner_sim,
        PipelineDef("long", (task("a", duration=50), task("b", "a"))),
        PipelineDef("bad", (task("x", duration=2, fail=True),)),
    )
    running = schedule(prunner_sim, "long")
    waiting = schedule(prunner_sim, "long")
    failed = schedule(prunner_sim, "bad")
    clock.advance(5)
    error = detail(prunner_sim, failed)["lastError"]
    assert error.startswith("exit status ")

    prunner_sim.restart()
    clock.advance(100)

    job = detail(prunner_sim, running)
    assert (job["completed"], job["canceled"], job["end"]) == (False, True, None)
    assert statuses(job) == {"a": "canceled", "b": "canceled"} and "lastError" not in job
    assert detail(prunner_sim, waiting)["canceled"] is True and detail(prunner_sim, waiting)["start"] is None
    bad = detail(prunner_sim, failed)
    assert "lastError" not in bad and bad["tasks"][0]["error"] == error  # the task keeps its error


def test_a_restart_without_its_store_forgets_every_job(prunner_sim):
    custom_world(prunner_sim, PipelineDef("long", (task("a", duration=50),)))
    job_id = schedule(prunner_sim, "long")
    prunner_sim.restart(keep_store=False)
    assert call(prunner_sim, "GET", "/job/detail", params={"id": job_id}).status_code == 404
    assert call(prunner_sim, "GET", "/pipelines/jobs").json()["jobs"] == []


def test_replace_cancels_the_last_waiting_job(prunner_sim):
    custom_world(prunner_sim, PipelineDef("r", (task("t", duration=10),), queue_limit=1, queue_strategy="replace"))
    schedule(prunner_sim, "r")
    waiting = schedule(prunner_sim, "r")
    newest = schedule(prunner_sim, "r")
    assert detail(prunner_sim, waiting)["canceled"] is True
    assert detail(prunner_sim, newest)["canceled"] is False


def test_partitioned_replace_keeps_one_waiting_job_per_partition(prunner_sim, clock):
    custom_world(
        prunner_sim,
        PipelineDef(
            "import",
            (task("t", duration=10),),
            queue_strategy="partitioned_replace",
            queue_partition_limit=1,
            start_delay=5,
        ),
    )
    a1 = schedule(prunner_sim, "import", queuePartition="a")
    b1 = schedule(prunner_sim, "import", queuePartition="b")
    a2 = schedule(prunner_sim, "import", queuePartition="a")
    assert detail(prunner_sim, b1)["start"] is None  # a start delay always waits first
    assert [detail(prunner_sim, j)["canceled"] for j in (a1, b1, a2)] == [True, False, False]

    clock.advance(6)
    assert detail(prunner_sim, b1)["start"] and detail(prunner_sim, a2)["start"] is None  # concurrency 1
    clock.advance(10)
    assert detail(prunner_sim, a2)["start"]


def test_retention_drops_the_oldest_finished_jobs(prunner_sim, clock):
    custom_world(prunner_sim, PipelineDef("small", (task("t", duration=5),), retention_count=2))
    ids = []
    for _ in range(3):
        ids.append(schedule(prunner_sim, "small"))
        clock.advance(6)
    listed = [j["id"] for j in call(prunner_sim, "GET", "/pipelines/jobs").json()["jobs"]]
    assert listed == [ids[2], ids[1]]
    assert call(prunner_sim, "GET", "/job/detail", params={"id": ids[0]}).status_code == 404


def test_the_job_records_variables_and_the_tokens_subject(prunner_sim):
    from providers.prunner import tokens

    variables = {"tag_name": "v1.17.4", "databases": ["mysql", "postgresql"], "dry": False, "n": 3}
    response = call(
        prunner_sim,
        "POST",
        "/pipelines/schedule",
        token=tokens.mint(SECRET, "j.doe"),
        json={"pipeline": "deploy", "variables": variables},
    )
    job = detail(prunner_sim, response.json()["jobId"])
    assert (job["variables"], job["user"]) == (variables, "j.doe")
    no_sub = call(
        prunner_sim, "POST", "/pipelines/schedule", token=prunner_sim.debug_token(), json={"pipeline": "render_content"}
    )
    job = detail(prunner_sim, no_sub.json()["jobId"])
    assert job["user"] == "" and "variables" not in job


def test_the_world_is_the_same_for_the_same_seed_and_new_jobs_keep_arriving(clock):
    def jobs(seed: int, at: float) -> list[dict]:
        sim = PrunnerSimulator(SECRET, seed=seed, scale=Scale(builds=3, arrival_every=20), clock=clock)
        sim.world.advance(at)
        sim.now = lambda: at
        return [sim.job_json(job) for job in sim.world.newest_first()]

    start = clock.now()
    assert jobs(5, start) == jobs(5, start)
    assert jobs(5, start) != jobs(6, start)
    later = jobs(5, start + 200)
    assert len({j["id"] for j in later} - {j["id"] for j in jobs(5, start)}) >= 8
    assert any(not j["completed"] for j in jobs(5, start + 61))
