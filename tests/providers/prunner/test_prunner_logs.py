"""Task logs: prunner's whole stdout/stderr per task, stored as one log with stderr in
red, grown while the task runs and stored for good once it ends; the job panel shows
the task's error and both streams side by side (docs/providers/prunner.md, "Logs")."""

from __future__ import annotations

import pytest

from dashboard import logstore
from dashboard.models import Build, Job
from dashboard.sync import sync_connection
from providers.base.errors import NotFound
from providers.base.sim import Faults
from providers.prunner.adapter import RED, RESET, PrunnerAdapter, render_streams
from providers.prunner.sim.plans import PipelineDef, TaskDef

from .support import call, custom_world


def text_of(log) -> str:
    return "".join(logstore.read(log))


@pytest.fixture
def noisy(prunner_sim):
    """One pipeline whose only task writes to both streams for 20 seconds, then fails."""
    custom_world(
        prunner_sim,
        PipelineDef("noisy", (TaskDef("work", ("./work.sh",), duration=(20, 20), fail_rate=1.0, warn_rate=1.0),)),
    )
    return prunner_sim


def test_stdout_is_kept_as_it_is_and_stderr_lines_are_red():
    text, open_line = render_streams("one\ntwo\n", "bad\nworse\n", "")
    assert text == f"one\ntwo\n{RED}bad{RESET}\n{RED}worse{RESET}\n"
    assert open_line == ""


def test_an_unfinished_line_is_ended_before_the_other_stream_starts():
    text, open_line = render_streams("progress 50%", "oops", "")
    assert text == f"progress 50%\n{RED}oops{RESET}" and open_line == "stderr"
    more, open_line = render_streams("", " still", open_line)
    assert more == f"{RED} still{RESET}" and open_line == "stderr"
    more, open_line = render_streams("next\n", "", open_line)
    assert more == "\nnext\n" and open_line == ""


def test_a_running_tasks_log_grows_and_is_stored_for_good_once_it_ends(prunner, noisy, clock):
    job_id = call(noisy, "POST", "/pipelines/schedule", json={"pipeline": "noisy"}).json()["jobId"]
    clock.advance(8)
    sync_connection(prunner.pk)
    task = Job.objects.get(external_id=f"{job_id}:work")
    assert task.state == "running"

    log = logstore.refresh_log(task)
    early = text_of(log)
    assert "$ ./work.sh" in early and f"{RED}warning:" in early
    assert not log.complete

    clock.advance(15)
    sync_connection(prunner.pk)  # the task has failed: the engine stores the rest of its log
    log.refresh_from_db()
    assert log.complete
    full = text_of(log)
    assert full.startswith(early)  # only the new part was appended
    stdout, stderr = (
        call(noisy, "GET", "/job/logs", params={"id": job_id, "task": "work"}).json()[k] for k in ("stdout", "stderr")
    )
    for line in stdout.splitlines():
        assert line in full
    for line in stderr.splitlines():
        assert f"{RED}{line}{RESET}" in full
    assert full.count("$ ./work.sh") == 1

    noisy.requests.clear()
    logstore.refresh_log(Job.objects.get(pk=task.pk))
    assert noisy.count("/job/logs") == 0  # a complete log is never fetched again


def test_the_cursor_remembers_how_much_of_each_stream_we_hold(prunner, noisy, clock):
    job_id = call(noisy, "POST", "/pipelines/schedule", json={"pipeline": "noisy"}).json()["jobId"]
    clock.advance(10)
    sync_connection(prunner.pk)
    task = Job.objects.get(external_id=f"{job_id}:work")
    adapter = PrunnerAdapter(prunner)
    try:
        first = adapter.fetch_log(task, {})
        again = adapter.fetch_log(task, first.cursor)
        assert again.text == "" and again.cursor == first.cursor
        clock.advance(5)
        later = adapter.fetch_log(task, first.cursor)
    finally:
        adapter.close()
    body = call(noisy, "GET", "/job/logs", params={"id": job_id, "task": "work"}).json()
    assert later.cursor["stdout"] == len(body["stdout"]) and later.cursor["stderr"] == len(body["stderr"])
    assert later.text and later.text not in first.text


def test_a_waiting_task_of_a_finished_job_has_a_complete_empty_log(prunner, prunner_sim):
    sync_connection(prunner.pk)
    never_ran = Job.objects.filter(raw_state="waiting", build__state="failed").first()
    if never_ran is None:
        pytest.skip("this seed has no fail-fast failure with tasks left waiting")
    log = logstore.refresh_log(never_ran)
    assert log.complete and text_of(log) == ""


def test_the_log_of_a_job_prunner_dropped_says_so_once_it_is_gone(
    prunner, prunner_sim, clock, believe_deletions_at_once
):
    sync_connection(prunner.pk)
    oldest = Build.objects.order_by("created_at").first()
    task = oldest.jobs.first()
    logstore.log_for(task).delete()  # pretend we never stored it
    clock.advance(400)  # retention drops the oldest jobs
    with pytest.raises(NotFound):  # one 404 is not the end of a log
        logstore.refresh_log(Job.objects.get(pk=task.pk))

    sync_connection(prunner.pk)
    sync_connection(prunner.pk)
    assert Build.objects.get(pk=oldest.pk).gone
    log = logstore.refresh_log(Job.objects.get(pk=task.pk))
    assert log.complete and "no longer has this task's output" in text_of(log)


def test_the_job_panel_shows_both_streams_side_by_side(prunner, noisy, clock):
    from dashboard.panels import render_panel

    job_id = call(noisy, "POST", "/pipelines/schedule", json={"pipeline": "noisy"}).json()["jobId"]
    clock.advance(12)
    sync_connection(prunner.pk)
    task = Job.objects.get(external_id=f"{job_id}:work")
    assert PrunnerAdapter.panels.get("job_panel").live

    html = render_panel(None, task, "job_panel")

    assert "stdout ·" in html and "stderr ·" in html and "still running" in html
    assert "[work] step 1/" in html and "warning: work step 1" in html
    assert html.index("stdout ·") < html.index("[work] step 1/") < html.index("stderr ·") < html.index("warning:")


def test_the_job_panel_says_when_prunner_cannot_be_asked(prunner, noisy, clock):
    from dashboard.panels import render_panel

    job_id = call(noisy, "POST", "/pipelines/schedule", json={"pipeline": "noisy"}).json()["jobId"]
    sync_connection(prunner.pk)
    noisy.faults = Faults(error_rate=1.0)
    html = render_panel(None, Job.objects.get(external_id=f"{job_id}:work"), "job_panel")
    assert "could not be asked: unreachable" in html  # classified: a provider's own words are for admins


def test_the_job_panel_shows_the_tasks_own_error_even_when_prunner_cannot_be_asked(prunner, noisy, clock):
    from dashboard.panels import render_panel

    job_id = call(noisy, "POST", "/pipelines/schedule", json={"pipeline": "noisy"}).json()["jobId"]
    clock.advance(25)
    sync_connection(prunner.pk)
    task = Job.objects.get(external_id=f"{job_id}:work")
    assert task.state == "failed" and task.raw["error"].startswith("exit status ")
    noisy.faults = Faults(error_rate=1.0)

    html = render_panel(None, task, "job_panel")

    assert f"<strong>Error:</strong> {task.raw['error']}" in html and "could not be asked" in html
    assert "does not record when a task that failed" in html and "the job's end is shown instead" in html


def test_the_build_panel_shows_variables_and_who_scheduled(prunner, prunner_sim):
    from dashboard.panels import render_panel

    sync_connection(prunner.pk)
    build = Build.objects.filter(raw__pipeline="deploy").first()
    prunner_sim.requests.clear()

    html = render_panel(None, build, "build_panel")

    assert "tag_name" in html and "environments" in html and "[&quot;staging" in html
    assert (build.triggered_by or "a token without sub") in html
    assert prunner_sim.requests == []  # from what we store
