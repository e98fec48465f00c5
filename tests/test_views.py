import re

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboard.models import Build, Job
from dashboard.sync import sync_connection


@pytest.fixture
def synced(semaphore, semaphore_sim, clock):
    sync_connection(semaphore.pk)
    clock.advance(31)  # new workflows arrive and start
    sync_connection(semaphore.pk)
    return semaphore


def rows(response) -> list[str]:
    return re.findall(rb'data-external-id="([^"]+)"', response.content)


def test_the_list_shows_builds_newest_first(viewer_client, synced):
    response = viewer_client.get(reverse("builds"))
    expected = list(Build.objects.order_by("-created_at", "-id").values_list("external_id", flat=True))
    assert [r.decode() for r in rows(response)] == expected[:50]
    assert b"<title>Builds" in response.content


@pytest.mark.parametrize("field", ["state", "branch", "project"])
def test_filters_narrow_the_list(viewer_client, synced, field):
    build = Build.objects.exclude(branch="main").select_related("project").first() or Build.objects.first()
    value = {"state": build.state, "branch": build.branch, "project": build.project.name}[field]
    response = viewer_client.get(reverse("builds"), {field: value})
    shown = {r.decode() for r in rows(response)}
    lookup = {"state": {"state": value}, "branch": {"branch": value}, "project": {"project__name": value}}[field]
    assert shown == set(Build.objects.filter(**lookup).values_list("external_id", flat=True))
    assert build.external_id in shown


def test_the_provider_filter_and_an_unknown_value_say_so(viewer_client, synced):
    assert rows(viewer_client.get(reverse("builds"), {"provider": "semaphore"}))
    response = viewer_client.get(reverse("builds"), {"provider": "nonsense"})
    assert response.status_code == 200
    assert b"not understood" in response.content


def test_htmx_gets_only_the_rows_and_polls_only_the_first_page(viewer_client, synced):
    response = viewer_client.get(reverse("builds"), HTTP_HX_REQUEST="true")
    assert b"<html" not in response.content and b'id="builds"' in response.content
    assert b'hx-trigger="every 1s' in response.content
    assert "HX-Request" in response["Vary"]


def test_pages_follow_a_keyset_cursor_without_gaps_or_repeats(viewer_client, synced, settings):
    import dashboard.views.builds as views

    views.PAGE_SIZE, old = 3, views.PAGE_SIZE
    try:
        seen, url = [], reverse("builds")
        while url:
            response = viewer_client.get(url)
            seen += [r.decode() for r in rows(response)]
            found = re.search(rb'href="([^"]+)" rel="next"', response.content)
            url = found.group(1).decode().replace("&amp;", "&") if found else None
        assert seen == list(Build.objects.order_by("-created_at", "-id").values_list("external_id", flat=True))
    finally:
        views.PAGE_SIZE = old


def test_a_bad_cursor_falls_back_to_the_first_page(viewer_client, synced):
    response = viewer_client.get(reverse("builds"), {"after": "%%%not-base64"})
    assert response.status_code == 200 and rows(response)


def test_the_list_costs_the_same_queries_for_many_rows_as_for_few(viewer_client, synced, django_assert_max_num_queries):
    import dashboard.views.builds as views

    counts = []
    for size in (2, 50):
        views.PAGE_SIZE, old = size, views.PAGE_SIZE
        try:
            from django.db import connection
            from django.test.utils import CaptureQueriesContext

            with CaptureQueriesContext(connection) as queries:
                viewer_client.get(reverse("builds"))
            counts.append(len(queries))
        finally:
            views.PAGE_SIZE = old
    assert counts[0] == counts[1]


def test_the_build_page_draws_the_job_graph_and_names_the_build(viewer_client, synced):
    build = Build.objects.filter(jobs__isnull=False, state__in=["passed", "failed"]).distinct().first()
    response = viewer_client.get(reverse("build", args=["semaphore", synced.slug, build.external_id]))
    content = response.content.decode()
    assert response.status_code == 200
    assert f"<title>{'✓' if build.state == 'passed' else '✗'} {build.state}" in content
    assert 'property="og:title"' in content
    assert content.count('class="node state-') == build.jobs.count()
    for job in build.jobs.all():
        assert reverse("job", args=["semaphore", synced.slug, job.external_id]) in content


def test_unknown_permalinks_are_404(viewer_client, synced):
    assert viewer_client.get(reverse("build", args=["semaphore", synced.slug, "nope"])).status_code == 404
    assert viewer_client.get(reverse("build", args=["harmont", synced.slug, "x"])).status_code == 404


def test_the_job_page_renders_colours_and_escapes_the_log(viewer_client, synced):
    job = Job.objects.filter(state="failed").first()
    response = viewer_client.get(reverse("job", args=["semaphore", synced.slug, job.external_id]))
    content = response.content.decode()
    assert 'class="ansi1"' in content or 'class="ansi31' in content
    assert "&lt;ok&gt; &amp; done" in content and "<ok>" not in content
    assert "exit code 1" in content


def advance_until_a_job_runs(sim, clock, connection) -> Job:
    for _ in range(60):
        running = [j for _, j in sim.jobs.values() if j.status(sim.now())[0] == "RUNNING"]
        if running:
            sync_connection(connection.pk)
            return Job.objects.get(external_id=running[0].id)
        clock.advance(1)
    raise AssertionError("no job started")


def tail_line(content: bytes) -> int:
    """The line the page's tail poller asks from next."""
    return int(re.search(rb'job-log/[^"]*\?line=(\d+)', content).group(1))


def test_a_running_jobs_log_grows_through_the_tail_endpoint(viewer_client, synced, clock, semaphore_sim):
    job = advance_until_a_job_runs(semaphore_sim, clock, synced)
    page = viewer_client.get(reverse("job", args=["semaphore", synced.slug, job.external_id]))
    assert b'hx-trigger="load"' in page.content  # the provider is asked after the page shows
    line = tail_line(page.content)
    clock.advance(40)  # the job runs on and finishes
    tail = viewer_client.get(
        reverse("job-log-tail", args=["semaphore", synced.slug, job.external_id]),
        {"line": line},
        HTTP_HX_REQUEST="true",
    )
    assert b'class="chunk"' in tail.content
    assert b"Job passed" in tail.content or b"Job failed" in tail.content  # the job's last line
    assert b'hx-swap-oob="true"' in tail.content  # the header is refreshed too
    synced.refresh_from_db()
    assert synced.next_sync_at <= timezone.now(), "the finished log asks for a sync soon"

    sync_connection(synced.pk)
    line = tail_line(tail.content)
    last = viewer_client.get(
        reverse("job-log-tail", args=["semaphore", synced.slug, job.external_id]),
        {"line": line + 1},
        HTTP_HX_REQUEST="true",
    )
    assert b"data-n=" not in last.content  # nothing new
    assert b'hx-trigger="every 2s' not in last.content  # finished: polling stops
    assert b"state-passed" in last.content or b"state-failed" in last.content


def test_searching_a_log_lists_matching_lines_with_numbers(viewer_client, synced):
    job = Job.objects.filter(state="failed").first()
    response = viewer_client.get(reverse("job", args=["semaphore", synced.slug, job.external_id]), {"q": "FAIL"})
    assert b"1 matching line" in response.content or b"matching lines" in response.content
    assert b'<span class="ln">' in response.content


def test_the_raw_log_downloads_as_text(viewer_client, synced):
    job = Job.objects.filter(state="failed").first()
    response = viewer_client.get(reverse("job-log-raw", args=["semaphore", synced.slug, job.external_id]))
    body = b"".join(response.streaming_content)
    assert response["Content-Type"].startswith("text/plain")
    assert "attachment" in response["Content-Disposition"]
    assert b"\x1b[31;1mFAIL" in body


def test_connection_health_is_shown(viewer_client, synced):
    response = viewer_client.get(reverse("connections"))
    assert b"health-ok" in response.content and synced.name.encode() in response.content


def test_the_api_lists_builds_with_permalinks(viewer_client, synced):
    data = viewer_client.get(reverse("api-builds")).json()
    first = data["results"][0]
    assert first["url"].startswith("/semaphore/acme/build/")
    detail = viewer_client.get(reverse("api-build", args=["semaphore", "acme", first["external_id"]])).json()
    assert detail["external_id"] == first["external_id"] and "jobs" in detail


def test_the_connection_page_lists_pipelines_that_belong_to_no_project(viewer_client, synced):
    from dashboard.models import Pipeline

    Pipeline.objects.create(connection=synced, external_id="nightly", name="nightly backup")
    page = viewer_client.get(reverse("connection", args=["semaphore", synced.slug])).content.decode()
    assert reverse("pipeline", args=["semaphore", synced.slug, "nightly"]) in page


def test_the_build_page_costs_the_same_queries_whatever_its_job_count(viewer_client, synced):
    from django.db import connection
    from django.db.models import Count
    from django.test.utils import CaptureQueriesContext

    builds = Build.objects.annotate(n=Count("jobs")).filter(n__gt=0, state__in=["passed", "failed"]).order_by("n")
    few, many = builds.first(), builds.last()
    assert few.n < many.n
    counts = []
    for build in (few, many):
        url = reverse("build", args=["semaphore", synced.slug, build.external_id])
        viewer_client.get(url)  # warm the session
        with CaptureQueriesContext(connection) as queries:
            assert viewer_client.get(url).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_a_failing_provider_is_asked_briefly_while_a_person_waits_for_a_log(
    viewer_client, synced, semaphore_sim, clock
):
    from providers.base.sim import Faults

    synced.options = {"jobs_api": "v1alpha"}
    synced.save()
    job = advance_until_a_job_runs(semaphore_sim, clock, synced)
    semaphore_sim.faults = Faults(error_rate=1.0)
    before = semaphore_sim.count("/api/v1alpha/logs/")
    page = viewer_client.get(reverse("job", args=["semaphore", synced.slug, job.external_id]))
    assert page.status_code == 200
    assert semaphore_sim.count("/api/v1alpha/logs/") == before  # the page never waits on the provider
    tail = viewer_client.get(
        reverse("job-log-tail", args=["semaphore", synced.slug, job.external_id]), HTTP_HX_REQUEST="true"
    )
    # A viewer reads the trouble classified, never the provider's own words.
    assert b"unreachable: the provider could not be reached" in tail.content
    assert semaphore_sim.count("/api/v1alpha/logs/") - before == 2  # two tries, not a sync's four


def test_a_build_row_shows_what_the_provider_said_escaped_and_shortened(viewer_client, synced):
    build = Build.objects.select_related("pipeline", "project").exclude(pipeline=None).exclude(project=None).first()
    title = "<img src=x onerror=alert(1)> & " + "long " * 30
    Build.objects.filter(pk=build.pk).update(
        title=title, branch="fix/<b>&co", commit_sha="0123456789abcdef", started_at=None, gone=True
    )
    escaped_start = "&lt;img src=x onerror=alert(1)&gt; &amp; long"
    for url, wide in ((reverse("builds"), True), (build.project.get_absolute_url(), False)):
        body = viewer_client.get(url).content.decode()
        pattern = rf'<tr class="build-row[^"]*" data-external-id="{re.escape(build.external_id)}">.*?</tr>'
        row = re.search(pattern, body, re.S)
        assert row, url
        row = row.group(0)
        assert "<img" not in row and "<b>" not in row
        assert escaped_start in row and "fix/&lt;b&gt;&amp;co" in row
        shown = re.search(r'<a href="[^"]+">([^<]*)</a>', row).group(1)
        assert shown.endswith("…") and len(shown.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")) == 90
        assert f"state-{build.state}" in row
        if wide:
            assert "not started · created <time" in row and "no longer on the provider" in row
            assert "<code>0123456</code>" in row and build.pipeline.name in row
            assert build.project.name in row and synced.name in row
        else:
            assert '<span class="sub">not started</span>' in row
