"""A run's stored log (docs/providers/jobsplatform.md, "Logs"): whole, in order, stderr
kept apart, final only once the run has ended a while; and a page view that reads it
within its own small bounds, ending in words when the platform misbehaves."""

from django.conf import settings
from django.urls import reverse

from dashboard import sync as dashboard_sync
from dashboard.logstore import read, refresh_log
from dashboard.models import Job
from dashboard.sync import sync_connection
from providers.base.sim import Faults
from providers.jobsplatform import contract as c
from providers.jobsplatform.adapter import LOG_SETTLE

from . import support


def log_text(job: Job) -> str:
    return "".join(read(job.log))


def plain(text: str) -> list[str]:
    return [ln.replace("\x1b[31m", "").replace("\x1b[0m", "") for ln in text.splitlines()]


def test_a_finished_runs_log_is_stored_whole_with_stderr_in_red(jp, jp_sim):
    sync_connection(jp.pk)
    run = next(
        r
        for r in jp_sim.runs.values()
        if r.status(jp_sim.now()) == c.FAILED and any(s == c.STDERR for _, s, _ in r.lines)
    )
    job = Job.objects.get(external_id=f"{run.job_id}:{run.id}")

    log = refresh_log(job)

    text = log_text(job)
    assert log.complete
    assert plain(text)[:-1] == [line for _, _, line in run.log(jp_sim.now())]
    for _, stream, line in run.log(jp_sim.now()):
        assert (f"\x1b[31m{line}\x1b[0m" in text) == (stream == c.STDERR)
    assert text.splitlines()[-1] == f"\x1b[2mRun failed, exit code {run.exit_code}\x1b[0m"


def test_a_running_runs_log_grows_without_repeating_a_line_and_is_final_once_settled(jp, jp_sim, api):
    sync_connection(jp.pk)
    backfill = support.job_named(jp_sim, "backfill-events")
    triggered = api.trigger_run(backfill.project_id, backfill.id)
    sync_connection(jp.pk)
    job = Job.objects.get(external_id=f"{backfill.id}:{triggered[c.RUN_ID]}")
    run = jp_sim.runs[triggered[c.RUN_ID]]

    jp_sim.clock.advance(run.start - jp_sim.now() + run.duration / 2)
    first = refresh_log(job)
    assert not first.complete and first.size > 0
    jp_sim.clock.advance(run.duration / 2 + 1)  # it has ended, but only just
    ended = refresh_log(job)
    assert not ended.complete, "lines may still reach the platform's log store"
    jp_sim.clock.advance(LOG_SETTLE.total_seconds())
    last = refresh_log(job)

    assert last.complete
    assert plain(log_text(job))[:-1] == [line for _, _, line in run.log(jp_sim.now())]


def test_a_run_gone_at_the_platform_ends_its_log_with_a_note(jp, jp_sim, api):
    sync_connection(jp.pk)
    backfill = support.job_named(jp_sim, "backfill-events")
    triggered = api.trigger_run(backfill.project_id, backfill.id)
    sync_connection(jp.pk)
    job = Job.objects.get(external_id=f"{backfill.id}:{triggered[c.RUN_ID]}")
    api.delete_job(backfill.project_id, backfill.id)

    log = refresh_log(job)

    assert log.complete and "The run no longer exists at the platform." in log_text(job)


def test_a_job_page_whose_log_pages_repeat_ends_in_words_within_its_bounds(jp, jp_sim, admin_client_, monkeypatch):
    monkeypatch.setattr(c, "MAX_LOG_LIMIT", 2)
    # What the page reads, not what the sync prefetched: a run that finished within the
    # prefetch window (it depends on the time of day) would arrive with its log stored.
    monkeypatch.setattr(dashboard_sync, "LOG_PREFETCH_LIMIT", 0)  # every run's log takes several pages
    sync_connection(jp.pk)
    run = max(jp_sim.runs.values(), key=lambda r: len(r.lines))
    job = Job.objects.get(external_id=f"{run.job_id}:{run.id}")
    jp_sim.faults = Faults(repeated_page_rate=1.0)
    jp_sim.requests.clear()

    # The page renders from the database; its log tail asks the platform. (Admins read
    # the provider's words; viewers a classified "unexpected answer".)
    page = admin_client_.get(reverse("job-log-tail", args=["jobsplatform", jp.slug, job.external_id]))

    assert page.status_code == 200
    assert "Could not fetch the log" in page.content.decode()
    assert "sent the same page of log lines" in page.content.decode()
    assert jp_sim.count("/v1/") <= settings.PAGE_PROVIDER_REQUESTS


def test_a_job_page_for_a_log_longer_than_one_page_view_may_read_says_so(jp, jp_sim, admin_client_, monkeypatch):
    monkeypatch.setattr(c, "MAX_LOG_LIMIT", 1)
    # What the page reads, not what the sync prefetched: a run that finished within the
    # prefetch window (it depends on the time of day) would arrive with its log stored.
    monkeypatch.setattr(dashboard_sync, "LOG_PREFETCH_LIMIT", 0)
    sync_connection(jp.pk)
    run = max(jp_sim.runs.values(), key=lambda r: len(r.lines))
    assert len(run.lines) > settings.PAGE_PROVIDER_REQUESTS
    job = Job.objects.get(external_id=f"{run.job_id}:{run.id}")
    jp_sim.requests.clear()

    page = admin_client_.get(reverse("job-log-tail", args=["jobsplatform", jp.slug, job.external_id]))

    assert page.status_code == 200
    assert f"Stopped after {settings.PAGE_PROVIDER_REQUESTS} requests" in page.content.decode()
    assert jp_sim.count("/v1/") == settings.PAGE_PROVIDER_REQUESTS
