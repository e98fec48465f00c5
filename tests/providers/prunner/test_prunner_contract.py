"""The prunner simulator against prunner's own swagger (Swagger 2.0, go-swagger output),
docs/providers/prunner-swagger.yml.

Bodies are validated with jsonschema against the swagger's definitions, made stricter
where docs/providers/prunner.md and server.go say more than the swagger (fields always
present, no other fields). Where the swagger is silent or wrong, the test says so:
- unset times (``start``, ``end``) are ``null``, as the real server sends them, where
  the swagger has a plain date-time string;
- ``variables`` is declared ``additionalProperties: {type: object}`` (go-swagger's
  rendering of ``map[string]interface{}``); its own example holds a list, so any value
  is allowed here;
- 404 and 500 answers have no schema; server.go sends ``{"error": ...}``;
- the 202 of schedule is only "default"; the 401 (plain text) is not in it at all;
- cancel's success body (``true``) has no schema."""

from __future__ import annotations

import copy
import re
import uuid
from pathlib import Path

import jsonschema
import pytest
import yaml

from providers.prunner import tokens

from .support import SECRET, call

SPEC = yaml.safe_load((Path(__file__).parents[3] / "docs/providers/prunner-swagger.yml").read_text())
ALWAYS = {
    "job": {"id", "pipeline", "tasks", "completed", "canceled", "errored", "created", "start", "end", "user"},
    "task": {"name", "status", "start", "end", "skipped", "exitCode", "errored"},
    "pipeline": {"pipeline", "schedulable", "running"},
}
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")  # UTC, whole seconds

formats = jsonschema.FormatChecker()


@formats.checks("date-time")
def _date_time(value) -> bool:
    return not isinstance(value, str) or bool(RFC3339.match(value))


@formats.checks("uuid4")
def _uuid4(value) -> bool:
    return not isinstance(value, str) or uuid.UUID(value).version == 4


@formats.checks("int16")
def _int16(value) -> bool:
    return not isinstance(value, int) or -(2**15) <= value < 2**15


def strict_definitions() -> dict:
    definitions = copy.deepcopy(SPEC["definitions"])
    definitions["job"]["properties"]["variables"]["additionalProperties"] = {}
    for name in ("job", "task"):
        for time in ("start", "end"):
            definitions[name]["properties"][time]["type"] = ["string", "null"]
    for name, required in ALWAYS.items():
        definitions[name]["required"] = sorted(required)
        definitions[name]["additionalProperties"] = False
    return definitions


def validate(body, response: str) -> None:
    schema = {**copy.deepcopy(SPEC["responses"][response]["schema"]), "definitions": strict_definitions()}
    schema.setdefault("additionalProperties", False)
    jsonschema.Draft4Validator(schema, format_checker=formats).validate(body)


def json_of(response, status: int):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.text.endswith("\n")  # Go's json.Encoder
    return response.json()


def test_the_pipelines_list_matches_the_swagger(prunner_sim):
    for path in ("/pipelines/", "/pipelines"):  # chi serves both
        body = json_of(call(prunner_sim, "GET", path), 200)
        validate(body, "pipelinesResponse")
        names = [p["pipeline"] for p in body["pipelines"]]
        assert names == sorted(names) and "deploy" in names


def test_pipelines_and_jobs_match_the_swagger_newest_job_first(prunner_sim, clock):
    clock.advance(95)  # three jobs arrive over time: some run, one queues
    prunner_sim.advance()
    body = json_of(call(prunner_sim, "GET", "/pipelines/jobs"), 200)
    validate(body, "pipelinesJobsResponse")
    created = [job["created"] for job in body["jobs"]]
    assert created == sorted(created, reverse=True)
    assert {job["id"] for job in body["jobs"]} == set(prunner_sim.world.jobs)


def test_job_detail_matches_the_swagger_in_every_state(prunner_sim, clock):
    seen_states = set()
    for _ in range(12):
        clock.advance(9)
        prunner_sim.advance()  # jobs dropped by retention at this moment go first
        for job_id in list(prunner_sim.world.jobs):
            body = json_of(call(prunner_sim, "GET", "/job/detail", params={"id": job_id}), 200)
            validate(body, "jobDetailResponse")
            seen_states |= {task["status"] for task in body["tasks"]}
            if body["start"] is None:
                assert body["end"] is None and not body["completed"]
            if not body["completed"]:
                assert body["end"] is None and "lastError" not in body
            for task in body["tasks"]:
                # Only a task that passed (or failed, allowed to) gets an end.
                assert (task["end"] is not None) == (task["status"] == "done"), task
                assert task["exitCode"] == {"waiting": 0, "running": -1}.get(task["status"], task["exitCode"])
    assert {"waiting", "running", "done"} <= seen_states


def test_task_logs_match_the_swagger(prunner_sim):
    job = next(iter(prunner_sim.world.jobs.values()))
    name = job.tasks(prunner_sim.now())[0].name
    body = json_of(call(prunner_sim, "GET", "/job/logs", params={"id": job.id, "task": name}), 200)
    validate(body, "jobLogsResponse")
    assert body["stdout"]


def test_scheduling_answers_202_with_a_uuid4(prunner_sim):
    response = call(prunner_sim, "POST", "/pipelines/schedule", json={"pipeline": "nightly_cleanup"})
    validate(json_of(response, 202), "pipelinesScheduleResponse")


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "error"),
    [
        ("GET", "/job/detail", {"params": {"id": "nope"}}, 400, "Invalid job id"),
        ("GET", "/job/detail", {"params": {"id": str(uuid.UUID(int=1))}}, 404, "Job not found"),
        ("GET", "/job/logs", {"params": {"id": "x", "task": "t"}}, 400, "Invalid job id"),
        ("GET", "/job/logs", {"params": {"id": str(uuid.UUID(int=1))}}, 400, "Invalid task name"),
        ("GET", "/job/logs", {"params": {"id": str(uuid.UUID(int=1)), "task": "t"}}, 404, "Job not found"),
        ("POST", "/job/cancel", {"params": {"id": ""}}, 400, "Invalid job id"),
        ("POST", "/job/cancel", {"params": {"id": str(uuid.UUID(int=1))}}, 404, "Job not found"),
        ("POST", "/pipelines/schedule", {"content": "{"}, 400, "Error decoding JSON: unexpected EOF"),
        ("POST", "/pipelines/schedule", {"content": ""}, 400, "Error decoding JSON: EOF"),
        (
            "POST",
            "/pipelines/schedule",
            {"json": {"pipeline": 5}},
            400,
            "Error decoding JSON: json: cannot unmarshal number into Go struct field .pipeline of type string",
        ),
        (
            "POST",
            "/pipelines/schedule",
            {"json": {"pipeline": "nope"}},
            400,
            'Error scheduling pipeline: pipeline "nope" is not defined',
        ),
    ],
)
def test_handler_errors_are_json_with_prunners_words(prunner_sim, method, path, kwargs, status, error):
    body = json_of(call(prunner_sim, method, path, **kwargs), status)
    validate(body, "genericErrorResponse")  # the swagger declares this body for 400 only
    assert body == {"error": error}


def test_a_finished_job_cannot_be_cancelled_and_says_so(prunner_sim):
    finished = next(j for j in prunner_sim.world.jobs.values() if j.completed(prunner_sim.now()) and not j.run.canceled)
    body = json_of(call(prunner_sim, "POST", "/job/cancel", params={"id": finished.id}), 500)
    assert body == {"error": "Error canceling job"}


def test_cancelling_answers_true(prunner_sim):
    job_id = call(prunner_sim, "POST", "/pipelines/schedule", json={"pipeline": "render_content"}).json()["jobId"]
    assert json_of(call(prunner_sim, "POST", "/job/cancel", params={"id": job_id}), 200) is True
    assert json_of(call(prunner_sim, "POST", "/job/cancel", params={"id": job_id}), 200) is True  # again: fine


def test_unknown_paths_and_methods_answer_like_chi(prunner_sim):
    missing = call(prunner_sim, "GET", "/nothing-here", token="")
    assert (missing.status_code, missing.text) == (404, "404 page not found\n")
    assert missing.headers["content-type"] == "text/plain; charset=utf-8"
    # Under /pipelines and /job the JWT check comes first.
    assert call(prunner_sim, "GET", "/job/nothing", token="").status_code == 401
    assert call(prunner_sim, "GET", "/job/nothing").status_code == 404
    wrong_method = call(prunner_sim, "GET", "/pipelines/schedule")
    assert (wrong_method.status_code, wrong_method.text) == (405, "")


def test_unset_times_are_null_and_other_optional_fields_are_left_out(prunner_sim, clock):
    for _ in range(6):
        clock.advance(7)
        for job in call(prunner_sim, "GET", "/pipelines/jobs").json()["jobs"]:
            assert {k for k, v in job.items() if v is None} <= {"start", "end"}
            assert job.get("lastError") != "" and job.get("variables") != {}
            for task in job["tasks"]:
                assert {k for k, v in task.items() if v is None} <= {"start", "end"}
                if "dependsOn" in task:
                    assert task["dependsOn"]


def test_a_debug_token_like_prunner_debug_prints_is_accepted(prunner_sim):
    token = prunner_sim.debug_token()
    assert set(tokens.verify(token, SECRET, prunner_sim.auth_clock())[0]) == {"iat"}
    assert call(prunner_sim, "GET", "/pipelines/", token=token).status_code == 200
