"""Every figure against the hand-built history of conftest.py, worked out by hand.

Percentiles are nearest-rank: the p50 of n values is the ceil(n / 2)-th in order, the p95
the ceil(0.95 n)-th. They are read from log-scale buckets as the mean of the bucket the
rank falls in, which is the value itself here: no two values of this history share a
bucket (test_buckets.py covers the case where they do)."""

from datetime import timedelta

import pytest

from dashboard.insights import buckets, queries, spans
from dashboard.insights.scope import scope_from
from dashboard.models import FlakeEvent, InsightsSettings, RedSpell

from .conftest import at


def day(rows, d):
    return next(r for r in rows if r["day"] == d.isoformat())


@pytest.fixture
def applied(history):
    history.apply()
    return history


def ci_scope(h, **params):
    scope, _ = scope_from({"connection": "acme", "pipeline": "ci", "window": "7", **params})
    return scope


def test_builds_success_rate_and_durations_per_day(applied):
    h = applied
    rows = queries.trends(ci_scope(h))
    assert len(rows) == 7
    first = day(rows, h.d1)
    assert (first["builds"], first["passed"], first["failed"], first["canceled"]) == (4, 2, 1, 1)
    assert first["success_rate"] == 66.7  # 2 of the 3 that passed or failed; canceled ones do not count
    assert first["duration_p50"] == 600 and first["duration_p95"] == 600
    assert first["wait_p50"] == 60 and first["wait_p95"] == 120  # waits 30, 60, 120 s
    second = day(rows, h.d2)
    assert (second["builds"], second["passed"], second["failed"]) == (3, 1, 2)
    assert second["success_rate"] == 33.3
    assert second["duration_p50"] == 1200 and second["duration_p95"] == 1800
    assert second["wait_p50"] == 0 and second["wait_p95"] == 300  # waits 0, 0, 300 s
    assert all(
        r["builds"] == 0 and r["success_rate"] is None for r in rows if r["day"] not in (first["day"], second["day"])
    )


def test_the_whole_connection_counts_every_pipeline(applied):
    h = applied
    scope, _ = scope_from({"connection": "acme", "window": "7"})
    first = day(queries.trends(scope), h.d1)
    assert (first["builds"], first["passed"], first["failed"]) == (5, 3, 1)  # with deploy-prod's d1
    assert first["success_rate"] == 75.0
    total = queries.totals(scope)
    assert (total["builds"], total["passed"], total["failed"], total["canceled"]) == (10, 5, 4, 1)


def test_a_branch_filter_reads_that_branch_only(applied):
    h = applied
    rows = queries.trends(ci_scope(h, branch="feature/x"))
    assert day(rows, h.d1)["builds"] == 1 and day(rows, h.d1)["canceled"] == 1
    assert sum(r["builds"] for r in rows) == 1


def test_slowest_and_most_failing_jobs(applied):
    h = applied
    stats = queries.job_stats(ci_scope(h))
    slowest = queries.slowest_jobs(stats)
    assert [s["job"] for s in slowest] == ["test", "lint"]
    test = slowest[0]
    # test took 300, 600, 450, 1500, 1000, 500 s: the 3rd and 6th of six in order.
    assert test["duration_p50"] == 500 and test["duration_p95"] == 1500
    assert (test["runs"], test["failures"], test["failure_rate"]) == (6, 3, 50.0)
    assert test["pipeline"] == "ci" and test["pipeline_url"] == "/semaphore/acme/pipeline/p-api:ci.yml"
    failing = queries.failing_jobs(stats)
    assert [(f["job"], f["failures"], f["failure_rate"]) for f in failing] == [("test", 3, 50.0), ("lint", 1, 16.7)]
    assert failing[0]["last_failure_at"] == at(h.d2, "10:16:40")  # b6's test: 1000 s from 10:00
    assert failing[0]["last_failure_url"] == "/semaphore/acme/job/b6-test-0"
    assert failing[1]["last_failure_url"] == "/semaphore/acme/job/b6-lint-1"


def test_a_failure_that_passed_for_the_same_commit_is_a_flake(applied):
    h = applied
    event = FlakeEvent.objects.get()
    assert (event.failed_job, event.passed_job) == (h.jobs["b2.test"], h.jobs["b3.test"])
    assert event.kind == FlakeEvent.Kind.RERUN and event.day == h.d1
    stats = {s["job"]: s for s in queries.job_stats(ci_scope(h))}
    assert (stats["test"]["flaky"], stats["test"]["flake_rate"]) == (1, 16.7)
    assert stats["lint"]["flaky"] == 0
    flakiest = queries.flakiest_jobs(list(stats.values()))
    assert [f["job"] for f in flakiest] == ["test"]
    shown = queries.flake_events(ci_scope(h), flakiest)[(h.ci.pk, "test")]
    assert shown[0]["failed_url"] == "/semaphore/acme/job/b2-test-0"
    assert shown[0]["passed_url"] == "/semaphore/acme/job/b3-test-0"


def test_a_later_rerun_makes_an_older_failure_a_flake(applied):
    h = applied
    h.build(
        "b8",
        created=at(h.d2, "15:00"),
        started=at(h.d2, "15:00"),
        finished=at(h.d2, "15:10"),
        sha="c5",  # b6's commit
        group="wf-b6",
        jobs=[("test", "passed", at(h.d2, "15:00"), at(h.d2, "15:00"), 600)],
    )
    h.apply("b8")
    event = FlakeEvent.objects.get(failed_job=h.jobs["b6.test"])
    assert event.passed_job == h.jobs["b8.test"] and event.kind == FlakeEvent.Kind.REBUILD
    stats = {s["job"]: s for s in queries.job_stats(ci_scope(h))}
    assert (stats["test"]["runs"], stats["test"]["flaky"]) == (7, 2)


def test_a_job_tried_twice_in_one_build_is_a_retry_flake(history):
    h = history
    d = h.d2
    h.build(
        "r1",
        created=at(d, "16:00"),
        started=at(d, "16:00"),
        finished=at(d, "16:20"),
        sha="c9",
        jobs=[
            ("unit", "failed", at(d, "16:00"), at(d, "16:00"), 100),
            ("unit", "passed", at(d, "16:02"), at(d, "16:02"), 100),
        ],
    )
    h.apply("r1")
    assert FlakeEvent.objects.get().kind == FlakeEvent.Kind.RETRY


def test_time_to_fix_main(applied):
    h = applied
    spells = list(RedSpell.objects.filter(pipeline_key=h.ci.pk).order_by("started_at"))
    assert [(s.started_at, s.ended_at, s.failures) for s in spells] == [
        (at(h.d1, "11:10:30"), at(h.d1, "12:12"), 1),
        (at(h.d2, "09:30"), at(h.d2, "11:15"), 2),
    ]
    rows = queries.time_red(ci_scope(h), now=at(h.d2, "23:00") + timedelta(days=1))
    assert len(rows) == 1
    red = rows[0]
    assert (red["branch"], red["spells"], red["failed_builds"]) == ("main", 2, 3)
    assert red["red_seconds"] == 3690 + 6300
    assert red["time_to_fix_p50"] == 3690 and red["time_to_fix_max"] == 6300
    assert red["red_since"] is None


def test_a_branch_still_red_is_shown_red_since_its_first_failure(applied):
    h = applied
    h.build(
        "b9",
        state="failed",
        created=at(h.d2, "20:00"),
        started=at(h.d2, "20:00"),
        finished=at(h.d2, "20:10"),
        sha="c10",
        jobs=[("test", "failed", at(h.d2, "20:00"), at(h.d2, "20:00"), 600)],
    )
    h.apply("b9")
    red = queries.time_red(ci_scope(h), now=at(h.d2, "21:10"))[0]
    assert red["red_since"] == at(h.d2, "20:10")
    assert red["red_seconds"] == 3690 + 6300 + 3600


def test_queue_wait_per_machine_type(applied):
    h = applied
    machines = {m["machine_type"]: m for m in queries.queue_by_machine(ci_scope(h))}
    assert machines["e1-standard-2"]["jobs"] == 4  # waits 60, 0, 0, 0 s
    assert machines["e1-standard-2"]["wait_p50"] == 0 and machines["e1-standard-2"]["wait_p95"] == 60
    assert machines["s1-linux"]["jobs"] == 2  # waits 0 and 360 s
    assert machines["s1-linux"]["wait_p95"] == 360
    assert machines[""]["jobs"] == 6


def test_dora_from_pipelines_a_pattern_marks_as_deploying(history):
    h = history
    InsightsSettings.objects.create(connection=h.connection, deploy_pipelines="deploy-*")
    h.apply()
    scope, _ = scope_from({"connection": "acme", "window": "7"})
    figures = queries.dora(scope)
    overall = figures["overall"]
    assert (overall["deployments"], overall["succeeded"], overall["failed"]) == (3, 2, 1)
    assert overall["change_failure_rate"] == 33.3
    assert overall["per_day"] == round(2 / 7, 2)
    # Leads: d1 10:40 - b1 (first pipeline of c1) 10:00 = 2400 s; d3 11:30 - b7 11:00 = 1800 s.
    assert overall["lead_time_p50"] == 1800
    assert overall["time_to_restore_p50"] == 6000  # d2 failed 09:50, d3 restored 11:30
    assert [t["target"] for t in figures["targets"]] == ["deploy-prod"]
    assert day(figures["per_day"], h.d2) == {"day": h.d2.isoformat(), "succeeded": 1, "failed": 1}


def test_unknown_filters_are_reported_and_left_out(applied):
    scope, _ = scope_from({"connection": "nope", "pipeline": "ci", "window": "12"})
    assert 'No connection with the slug "nope".' in scope.errors
    assert any("window" in e or "valid choice" in e for e in scope.errors)
    assert scope.days == 30 and scope.pipeline == "ci"


def test_a_long_window_reads_spans_of_days_and_gets_the_same_figures(history):
    h = history
    durations = {}
    for i in range(60):
        d = h.d2 - timedelta(days=i)
        seconds = 100 + 37 * i
        state = "failed" if i % 7 == 3 else "passed"
        name = f"day{i}"
        h.build(
            name,
            state=state,
            created=at(d, "08:00"),
            started=at(d, "08:00"),
            finished=at(d, "09:00"),
            sha=f"s{i}",
            jobs=[("long", state, at(d, "08:00"), at(d, "08:00"), seconds)],
        )
        durations[name] = seconds
    h.apply()
    for window in ("30", "90"):
        scope, _ = scope_from({"connection": "acme", "window": window})
        days = {scope.start + timedelta(days=n) for n in range(scope.days)}
        mine = [s for name, s in durations.items() if h.builds[name].created_at.date() in days]
        long = next(s for s in queries.job_stats(scope) if s["job"] == "long")
        assert long["runs"] == len(mine)
        assert long["failures"] == sum(1 for i in range(60) if i % 7 == 3 and h.d2 - timedelta(days=i) in days)
        # The same as one histogram of the window's durations, however the days were summed.
        assert long["duration_p50"] == buckets.percentile(buckets.histogram(mine), 0.5)
        assert long["duration_p95"] == buckets.percentile(buckets.histogram(mine), 0.95)


def test_spans_tile_any_window_with_few_aligned_pieces():
    from datetime import date

    for start in (date(2026, 1, 1), date(2026, 3, 7), date(2025, 12, 31)):
        for days in (1, 7, 30, 90):
            end = start + timedelta(days=days - 1)
            pieces = spans.cover(start, end)
            covered = [p + timedelta(days=i) for n, p in pieces for i in range(n)]
            assert covered == [start + timedelta(days=i) for i in range(days)]
            assert all(p.toordinal() % n == 0 for n, p in pieces)
            assert len(pieces) <= 12


def test_the_pages_job_tables_agree_with_the_full_figures(applied):
    h = applied
    h.build(
        "x1",
        created=at(h.d2, "13:00"),
        started=at(h.d2, "13:00"),
        finished=at(h.d2, "14:00"),
        sha="x1",
        jobs=[
            (f"job{i}", "failed" if i % 3 else "passed", at(h.d2, "13:00"), at(h.d2, "13:00"), 40 * i + 5)
            for i in range(12)
        ],
    )
    h.apply("x1")
    scope = ci_scope(h)
    stats = queries.job_stats(scope)
    shown_slow = ("pipeline", "job", "runs", "duration_p50", "duration_p95")
    shown_failing = ("pipeline", "job", "runs", "failures", "failure_rate", "last_failure_at", "last_failure_url")
    for limit in (1, 2, 5, 10, 20):
        slowest, failing = queries.slowest_and_failing(scope, limit)
        assert [[r[f] for f in shown_slow] for r in slowest] == [
            [r[f] for f in shown_slow] for r in queries.slowest_jobs(stats, limit)
        ]
        assert [[r[f] for f in shown_failing] for r in failing] == [
            [r[f] for f in shown_failing] for r in queries.failing_jobs(stats, limit)
        ]
