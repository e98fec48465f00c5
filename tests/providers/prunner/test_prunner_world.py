"""The simulated prunner's scheduler over real HTTP: task graphs over time, fail-fast and
continue-after-failure, on_error, cancellation, concurrency, wait lists, retention."""

from __future__ import annotations

from providers.base.sim import Scale
from providers.prunner.sim import PrunnerSimulator
from providers.prunner.sim.plans import PipelineDef
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


def test_fail_fast_cancels_running_tasks_leaves_the_rest_waiting_and_runs_on_error(prunner_sim, clock):
    custom_world(prunner_sim, release(on_error=ON_ERROR))
    job_id = schedule(prunner_sim, "release")
    clock.advance(10.5)  # migrate failed at 10s

    job = detail(prunner_sim, job_id)
    assert statuses(job) == {
        "build": "done",
        "assets": "canceled",
        "migrate": "error",
        "publish": "waiting",
        "on_error": "running",
    }
    assert (job["errored"], job["completed"], job["canceled"]) == (True, False, False)
    assets = next(t for t in job["tasks"] if t["name"] == "assets")
    assert assets["exitCode"] == -1 and "error" not in assets and "end" in assets

    clock.advance(3)
    job = detail(prunner_sim, job_id)
    assert (job["completed"], job["canceled"], job["errored"]) == (True, False, True)
    assert job["lastError"].startswith("exit status ")
    logs = call(prunner_sim, "GET", "/job/logs", params={"id": job_id, "task": "on_error"}).json()
    assert "$ ./on_error.sh" in logs["stdout"]


def test_continue_after_failure_cancels_only_the_dependents(prunner_sim, clock):
    custom_world(prunner_sim, release(continue_running_tasks_after_failure=True))
    job_id = schedule(prunner_sim, "release")
    clock.advance(11)

    job = detail(prunner_sim, job_id)
    assert statuses(job) == {"build": "done", "assets": "running", "migrate": "error", "publish": "canceled"}
    publish = job["tasks"][3]
    assert "start" not in publish and "end" not in publish  # it never ran
    clock.advance(15)
    assert statuses(detail(prunner_sim, job_id))["assets"] == "done"


def test_cancelling_a_running_job_kills_its_tasks(prunner_sim, clock):
    custom_world(prunner_sim, PipelineDef("long", (task("a", duration=50), task("b", "a"))))
    job_id = schedule(prunner_sim, "long")
    clock.advance(5)
    assert call(prunner_sim, "POST", "/job/cancel", params={"id": job_id}).json() is True

    job = detail(prunner_sim, job_id)
    assert (job["canceled"], job["completed"], job["errored"]) == (True, True, False)
    assert job["lastError"] == "context canceled"
    assert statuses(job) == {"a": "canceled", "b": "waiting"}


def test_a_pipeline_without_a_queue_is_not_schedulable_while_it_runs(prunner_sim, clock):
    custom_world(prunner_sim, PipelineDef("deploy", (task("go", duration=20),), queue_limit=0))
    assert pipeline(prunner_sim, "deploy") == {"pipeline": "deploy", "schedulable": True, "running": False}
    schedule(prunner_sim, "deploy")
    assert pipeline(prunner_sim, "deploy") == {"pipeline": "deploy", "schedulable": False, "running": True}

    refused = call(prunner_sim, "POST", "/pipelines/schedule", json={"pipeline": "deploy"})
    assert (refused.status_code, refused.json()) == (400, {"error": f"Error scheduling pipeline: {NO_QUEUE}"})
    clock.advance(21)
    assert pipeline(prunner_sim, "deploy")["schedulable"] is True


def test_a_full_append_queue_refuses_and_the_queue_starts_when_a_slot_frees(prunner_sim, clock):
    custom_world(prunner_sim, PipelineDef("q", (task("t", duration=10),), queue_limit=1))
    first = schedule(prunner_sim, "q")
    second = schedule(prunner_sim, "q")
    assert "start" not in detail(prunner_sim, second)
    refused = call(prunner_sim, "POST", "/pipelines/schedule", json={"pipeline": "q"})
    assert refused.json() == {"error": f"Error scheduling pipeline: {QUEUE_FULL}"}
    assert pipeline(prunner_sim, "q")["schedulable"] is False

    clock.advance(12)
    assert detail(prunner_sim, first)["completed"] is True
    assert detail(prunner_sim, second)["start"] == detail(prunner_sim, first)["end"]


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
    assert "start" not in detail(prunner_sim, b1)  # a start delay always waits first
    assert [detail(prunner_sim, j)["canceled"] for j in (a1, b1, a2)] == [True, False, False]

    clock.advance(6)
    assert "start" in detail(prunner_sim, b1) and "start" not in detail(prunner_sim, a2)  # concurrency 1
    clock.advance(10)
    assert "start" in detail(prunner_sim, a2)


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
