"""The jobs platform's client against its simulator: the wire contract both sides read
(docs/providers/jobsplatform.md, "The contract we assume"), the platform's own words in
its errors, and log paging that can neither loop nor take an empty answer for a whole
one. Generic faults (retries, 429, timeouts, bodies that are not JSON) are the contract
suite's, in tests/providers/test_contract.py."""

import re

import httpx
import pytest

from providers.base.errors import AuthError, BadResponse, NotFound, Rejected, RepeatedPage, Unavailable
from providers.base.sim import Faults
from providers.jobsplatform import contract as c
from providers.jobsplatform.client import JobsPlatformClient, Window

from . import support


def test_the_client_reads_every_documented_read_operation(api, jp_sim):
    project = support.first_project(jp_sim)
    heartbeat = support.job_named(jp_sim, "heartbeat")

    assert [p[c.NAME] for p in api.projects()] == ["data", "ops"]
    jobs = api.jobs(project)
    assert [j[c.NAME] for j in jobs] == ["backfill-events", "db-migrate", "heartbeat", "nightly-report"]
    job = api.job(project, heartbeat.id)
    assert job[c.IMAGE] == "busybox:1.36" and job[c.SCHEDULE] == "* * * * *" and job[c.TAGS] == ["monitoring"]
    status = api.job_status(project, heartbeat.id)
    assert status[c.RUN_COUNTS][c.TOTAL] == len(heartbeat.runs)
    assert status[c.NEXT_FIRE_AT] and status[c.LATEST_RUN][c.TRIGGER] == c.SCHEDULED
    runs = api.runs(project, heartbeat.id)
    created = [r[c.CREATED_AT] for r in runs]
    assert created == sorted(created, reverse=True), "runs are listed newest first"
    run = api.run(project, heartbeat.id, runs[-1][c.RUN_ID])
    assert run[c.RUN_STATUS] in c.TERMINAL and run[c.EXIT_CODE] is not None
    entries, truncated = api.logs(project, heartbeat.id, run[c.RUN_ID])
    assert entries and not truncated
    assert {e[c.STREAM] for e in entries} <= {c.STDOUT, c.STDERR}
    assert entries[0][c.LINE] == "Pulling image busybox:1.36"
    metrics = api.metrics(project, heartbeat.id, [c.CPU_USAGE, c.MEMORY_USAGE], Window(since=600))
    assert metrics[c.CPU_USAGE][c.STATUS] == c.SUCCESS and metrics[c.CPU_USAGE][c.UNIT] == "cores"
    assert metrics[c.MEMORY_USAGE][c.UNIT] == "bytes" and len(metrics[c.MEMORY_USAGE][c.SERIES]) > 10
    assert api.server_time is not None and abs(api.server_time.timestamp() - jp_sim.now()) < 2


def test_every_answer_success_or_error_is_wrapped_in_the_envelope(jp_sim):
    project = support.first_project(jp_sim)
    base = f"{jp_sim.url}/v1/workspaces/{jp_sim.workspace_id}/projects/{project}/jobs"
    good = {"Authorization": f"Bearer {jp_sim.token}"}
    answers = [
        httpx.get(base, headers=good),
        httpx.get(f"{base}/job_nope", headers=good),
        httpx.get(base, headers={"Authorization": "Bearer wrong"}),
        httpx.get(f"{jp_sim.url}/v2/elsewhere", headers=good),
        httpx.post(base, headers=good, content=b"not json"),
    ]
    assert [a.status_code for a in answers] == [200, 404, 401, 404, 400]
    for answer in answers:
        body = answer.json()
        assert set(body) == {c.STATUS, c.MESSAGE, c.DATA}
        assert body[c.STATUS] == (c.SUCCESS if answer.status_code == 200 else c.ERROR)
        assert body[c.MESSAGE]


def test_it_sends_the_bearer_token(api, jp_sim):
    seen = {}
    original = jp_sim.list_jobs

    def capture(request, **kw):
        seen.update(request.headers)
        return original(request, **kw)

    jp_sim.list_jobs = capture
    api.jobs(support.first_project(jp_sim))
    assert seen["Authorization"] == f"Bearer {jp_sim.token}"


def test_a_bad_token_is_an_auth_error_in_the_platforms_words(jp_sim):
    with (
        JobsPlatformClient(jp_sim.url, "wrong", workspace_id=jp_sim.workspace_id) as client,
        pytest.raises(AuthError, match="refused the API token: Invalid API token"),
    ):
        client.jobs(support.first_project(jp_sim))
    jp_sim.faults = Faults(auth_fail_rate=1.0)  # a token revoked while in use: the same words
    with (
        JobsPlatformClient(jp_sim.url, jp_sim.token, workspace_id=jp_sim.workspace_id) as client,
        pytest.raises(AuthError, match="refused the API token: Invalid API token"),
    ):
        client.jobs(support.first_project(jp_sim))


def test_an_unknown_job_is_not_found_with_the_platforms_message(api, jp_sim):
    project = support.first_project(jp_sim)
    with pytest.raises(NotFound, match="Job job_000000000000 not found"):
        api.job_status(project, "job_000000000000")
    with pytest.raises(NotFound, match="Workspace"):
        JobsPlatformClient(jp_sim.url, jp_sim.token, workspace_id="ws_nope").jobs(project)


def test_a_trigger_is_not_sent_twice_when_the_platform_fails(api, jp_sim):
    jp_sim.faults = Faults(error_rate=1.0)
    job = support.job_named(jp_sim, "db-migrate")
    with pytest.raises(Unavailable, match=r"failed \(50\d\): Internal error, please retry"):
        api.trigger_run(job.project_id, job.id)
    assert api.requests == 1, "a POST that reached the platform is not repeated"


def test_an_answer_without_the_envelope_is_a_bad_response_and_an_error_envelope_a_refusal(api, jp_sim):
    project = support.first_project(jp_sim)
    jp_sim.list_jobs = lambda request, **kw: jp_sim.json([{"job_id": "bare list"}])
    with pytest.raises(BadResponse, match="envelope"):
        api.jobs(project)
    jp_sim.list_jobs = lambda request, **kw: jp_sim.json({c.STATUS: "weird", c.DATA: []})
    with pytest.raises(BadResponse, match="'weird'"):
        api.jobs(project)
    jp_sim.list_jobs = lambda request, **kw: jp_sim.envelope(c.ERROR, "quota exceeded", None, 200)
    with pytest.raises(Rejected, match="quota exceeded"):
        api.jobs(project)


def test_a_listing_without_its_key_is_a_bad_response_never_an_empty_list(api, jp_sim):
    job = support.job_named(jp_sim, "heartbeat")
    jp_sim.faults = Faults(missing_key_rate=1.0)

    for read in (
        lambda: api.projects(),
        lambda: api.jobs(job.project_id),
        lambda: api.runs(job.project_id, job.id),
        lambda: api.logs(job.project_id, job.id),
    ):
        with pytest.raises(BadResponse, match="not the documented shape"):
            read()


def test_a_redirect_is_not_followed_and_says_where_it_pointed(api, jp_sim):
    jp_sim.faults = Faults(redirect_rate=1.0, redirect_to="http://127.0.0.1:9/elsewhere")
    with pytest.raises(
        BadResponse, match=re.escape("redirected to 'http://127.0.0.1:9/elsewhere'; it was not followed")
    ):
        api.jobs(support.first_project(jp_sim))
    assert api.requests == 1


# Log pages --------------------------------------------------------------------------------------
def longest_run(sim):
    return max(sim.runs.values(), key=lambda r: len(r.lines))


def test_a_log_longer_than_one_page_is_read_page_by_page(jp_sim, api, monkeypatch):
    monkeypatch.setattr(c, "MAX_LOG_LIMIT", 4)  # both sides read it: pages of four lines
    run = longest_run(jp_sim)
    entries = api.run_log_after(run.project_id, run.job_id, run.id, None)

    assert [e[c.LINE] for e in entries] == [line for _, _, line in run.log(jp_sim.now())]
    assert len(entries) > 8


def test_a_log_page_that_repeats_stops_the_read_with_an_error_instead_of_looping(jp_sim, api, monkeypatch):
    monkeypatch.setattr(c, "MAX_LOG_LIMIT", 4)
    run = longest_run(jp_sim)
    jp_sim.faults = Faults(repeated_page_rate=1.0)  # a server that ignores `end`

    with pytest.raises(RepeatedPage, match=f"log lines of run {run.id}"):
        api.run_log_after(run.project_id, run.job_id, run.id, None)
    assert api.requests == 2, "the second page, the same as the first, ended the read"


def test_a_log_page_that_says_lines_were_left_out_but_holds_fewer_is_refused(jp_sim, api):
    run = longest_run(jp_sim)
    jp_sim.faults = Faults(endless_pages=1.0)  # "truncated" on every page

    with pytest.raises(BadResponse, match="more log lines matched than the 5000 asked for, but sent"):
        api.run_log_after(run.project_id, run.job_id, run.id, None)
    assert api.requests == 1


def test_a_log_read_stays_within_the_clients_request_budget(jp_sim, monkeypatch):
    monkeypatch.setattr(c, "MAX_LOG_LIMIT", 2)
    run = longest_run(jp_sim)
    with JobsPlatformClient(jp_sim.url, jp_sim.token, workspace_id=jp_sim.workspace_id, budget=3) as api:
        with pytest.raises(Exception, match="Stopped after 3 requests"):
            api.run_log_after(run.project_id, run.job_id, run.id, None)
        assert api.requests == 3
