"""What it takes for the dashboard to say something is gone at the provider."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dashboard.evidence import Evidence
from dashboard.models import Build, Connection, Pipeline, Schedule
from dashboard.states import State
from dashboard.sync import apply_batch
from providers.base.records import Batch, BuildRecord, JobRecord, Listing, PipelineRecord, ScheduleRecord

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def connection(db):
    return Connection.objects.create(kind="prunner", name="p", slug="p", base_url="http://127.0.0.1:1")


def build(external_id: str, state: State = State.PASSED, jobs=()) -> BuildRecord:
    return BuildRecord(
        external_id, state, T0, pipeline_id="deploy", jobs=[JobRecord(f"{external_id}:{j}", j, state) for j in jobs]
    )


def listed(connection, *ids: str) -> None:
    """One sync's complete listing of builds."""
    apply_batch(connection, Batch(listings=[Listing("build", set(ids))]), Evidence())


def age_evidence(seconds: float) -> None:
    """As if the first sighting of the evidence had been this long ago."""
    Build.objects.exclude(missing_since=None).update(missing_since=timezone.now() - timedelta(seconds=seconds))


def test_one_listing_without_a_build_is_not_evidence_enough(connection, settings):
    apply_batch(connection, Batch(builds=[build(f"b{i}") for i in range(10)]))
    listed(connection, *[f"b{i}" for i in range(9)])

    assert not Build.objects.filter(gone=True).exists()


def test_a_build_missing_twice_over_the_confirmation_time_is_gone_and_kept(connection, settings):
    apply_batch(connection, Batch(builds=[build(f"b{i}") for i in range(10)]))
    listed(connection, *[f"b{i}" for i in range(9)])
    listed(connection, *[f"b{i}" for i in range(9)])
    assert not Build.objects.filter(gone=True).exists(), "two listings in quick succession are not enough"

    age_evidence(settings.GONE_CONFIRM_SECONDS + 1)
    listed(connection, *[f"b{i}" for i in range(9)])

    gone = Build.objects.get(gone=True)
    assert gone.external_id == "b9" and gone.state == State.PASSED


def test_a_gone_build_seen_again_is_restored_with_what_the_provider_says(connection, settings):
    settings.GONE_CONFIRM_SECONDS = 0
    apply_batch(connection, Batch(builds=[build("a", State.RUNNING), build("b")]))
    listed(connection, "b")
    listed(connection, "b")
    assert Build.objects.get(external_id="a").state == State.UNKNOWN, "a gone build is never shown as running"

    apply_batch(connection, Batch(builds=[build("a", State.PASSED)]))

    restored = Build.objects.get(external_id="a")
    assert (restored.gone, restored.state, restored.missing_count) == (False, State.PASSED, 0)


def test_a_listing_that_drops_most_rows_at_once_looks_wrong_and_waits_longer(connection, settings):
    settings.GONE_CONFIRM_SECONDS = 0
    apply_batch(connection, Batch(builds=[build(f"b{i}") for i in range(10)]))
    found = Evidence()
    apply_batch(connection, Batch(listings=[Listing("build", set())]), found)
    listed(connection)

    assert not Build.objects.filter(gone=True).exists()
    assert "left out 10 of the 10" in found.problems[0]


def test_missing_twice_in_one_sync_counts_once(connection, settings):
    settings.GONE_CONFIRM_SECONDS = 0
    apply_batch(connection, Batch(builds=[build("a"), build("b")]))
    once = Evidence()
    apply_batch(connection, Batch(listings=[Listing("build", {"b"})]), once)
    apply_batch(connection, Batch(not_found=[("build", "a")]), once)

    assert Build.objects.get(external_id="a").missing_count == 1


def test_definitions_are_kept_marked_and_other_rows_deleted(connection, settings):
    settings.GONE_CONFIRM_SECONDS = 0
    apply_batch(
        connection,
        Batch(
            pipelines=[PipelineRecord("deploy", "deploy"), PipelineRecord("lint", "lint")],
            schedules=[ScheduleRecord("nightly", "nightly"), ScheduleRecord("hourly", "hourly")],
            builds=[build("r1")],
        ),
    )
    for _ in range(2):
        apply_batch(
            connection,
            Batch(listings=[Listing("pipeline", {"lint"}), Listing("schedule", {"hourly"})]),
            Evidence(),
        )

    assert Pipeline.objects.get(external_id="deploy").gone
    assert Build.objects.get(external_id="r1").pipeline.external_id == "deploy", "its builds keep their pipeline"
    assert list(Schedule.objects.values_list("external_id", flat=True)) == ["hourly"]


def test_a_build_read_without_its_jobs_is_read_again_later(connection):
    apply_batch(connection, Batch(builds=[BuildRecord("x", State.PASSED, T0, jobs=None)]))
    first = Build.objects.get(external_id="x")
    assert first.recheck_at is not None and first.recheck_attempts == 1

    apply_batch(connection, Batch(builds=[build("x", jobs=["test"])]))

    assert Build.objects.get(external_id="x").recheck_at is None


def test_a_finished_build_with_a_job_in_an_unknown_state_is_read_again(connection):
    record = build("y", jobs=["test"])
    record.jobs[0].state = State.UNKNOWN
    apply_batch(connection, Batch(builds=[record]))

    assert Build.objects.get(external_id="y").recheck_at is not None


def test_a_listing_restores_the_marked_rows_it_shows_in_or_out_of_its_scope_and_writes_nothing_else(connection):
    other = BuildRecord("elsewhere", State.PASSED, T0, pipeline_id="other")
    apply_batch(connection, Batch(builds=[*(build(f"b{i}") for i in range(4)), other]))
    listed(connection, "b0", "b1")  # b2, b3 and "elsewhere" missing once: marked
    assert set(Build.objects.filter(missing_count=1).values_list("external_id", flat=True)) == {"b2", "b3", "elsewhere"}

    scoped = Listing("build", {"b0", "b1", "b2", "elsewhere"}, scope={"pipeline": "deploy"})
    apply_batch(connection, Batch(listings=[scoped]), Evidence())

    marks = dict(Build.objects.values_list("external_id", "missing_count"))
    assert marks.pop("b3") > 0, "not shown: still missing"
    assert marks == {"b0": 0, "b1": 0, "b2": 0, "elsewhere": 0}
    with CaptureQueriesContext(db_connection) as ran:
        listed(connection, "b0", "b1", "b2", "b3", "elsewhere")
    assert not Build.objects.filter(missing_count__gt=0).exists()
    with CaptureQueriesContext(db_connection) as quiet:
        listed(connection, "b0", "b1", "b2", "b3", "elsewhere")
    writes = [q["sql"] for q in quiet.captured_queries if q["sql"].startswith(("UPDATE", "INSERT", "DELETE"))]
    assert writes == [] and len(quiet.captured_queries) < len(ran.captured_queries)
