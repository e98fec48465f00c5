"""What makes a sync fast, as someone running the dashboard would see it: a whole batch
written at once with the same outcome, HTTP clients reused, items read concurrently
within the same bounds, pages that ask the provider nothing never preparing a client,
and dispatch that stays bounded whatever the backlog."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import FieldDoesNotExist
from django.db import connection as connection_db
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dashboard import sync as sync_module
from dashboard import upsert as upsert_module
from dashboard.apply import row_values
from dashboard.logstore import log_for, logs_for, read, store_piece, store_pieces
from dashboard.lookups import AnyOf
from dashboard.models import Build, Connection, Job, Log, Project
from dashboard.states import FINISHED, State
from dashboard.sync import dispatch_due, sync_connection
from dashboard.upsert import fingerprint, upsert
from providers.base import pool
from providers.base.errors import AuthError, BadResponse, BudgetExhausted
from providers.base.readahead import ReadAhead
from providers.base.records import LogPiece
from providers.base.sim import Scale
from providers.harmont.client import HarmontClient
from providers.harmont.sim import HarmontSimulator
from providers.jobsplatform.sim import JobsPlatformSimulator
from providers.prunner.sim import PrunnerSimulator
from providers.registry import adapter_class
from providers.semaphore.sim import SemaphoreSimulator
from tests.conftest import make_connection
from tests.providers.jobsplatform.support import half_past_a_minute

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection(db):
    return Connection.objects.create(kind="semaphore", name="c", slug="c", base_url="http://127.0.0.1:9", token="t")


def test_a_batch_is_created_then_left_alone_then_updated_with_stored_values_as_they_were(connection):
    raw = {"text": 'tab\there, newline\nthere, back\\slash, quote " and ünïcode', "nested": {"n": [1, 2, None]}}
    rows = {f"p{i}": {"name": f"project {i}", "raw": raw} for i in range(3)}

    first = upsert(Project, connection.pk, rows)
    again = upsert(Project, connection.pk, rows)
    changed = upsert(Project, connection.pk, {"p1": {"name": "renamed", "raw": {}}})

    assert (first.created, first.updated, first.unchanged) == (3, 0, 0)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert (changed.created, changed.updated, changed.changed) == (0, 1, ["p1"])
    assert again.ids == first.ids and set(first.ids.values()) == set(Project.objects.values_list("id", flat=True))
    assert Project.objects.get(external_id="p0").raw == raw
    assert Project.objects.get(external_id="p1").name == "renamed"


@pytest.mark.skipif(connection_db.vendor != "postgresql", reason="new rows are copied straight in on PostgreSQL")
def test_a_new_row_that_another_writer_made_meanwhile_is_merged_and_the_rest_written(connection):
    made = upsert(Project, connection.pk, {"p1": {"name": "made by an action's answer", "raw": {}}})
    rows = {"p0": {"name": "zero", "raw": {"n": 0}}, "p1": {"name": "one", "raw": {"n": 1}}}

    # Read before p1 was made, the batch holds both as new: the copy fails and is undone.
    ids = upsert_module._insert_copy(
        Project, connection.pk, ("name", "raw"), [(k, (fingerprint(v), v)) for k, v in rows.items()]
    )

    assert ids["p1"] == made.ids["p1"] and set(ids) == {"p0", "p1"}
    assert dict(Project.objects.values_list("external_id", "name")) == {"p0": "zero", "p1": "one"}
    assert Project.objects.get(pk=ids["p0"]).raw == {"n": 0}
    assert upsert(Project, connection.pk, rows).unchanged == 2


def test_a_new_row_gets_the_model_defaults_for_what_its_record_does_not_carry(connection):
    project = Project.objects.create(connection=connection, external_id="p", name="p")
    build = upsert(
        Build, connection.pk, {"b1": {"project_id": project.pk, "state": "running", "created_at": timezone.now()}}
    )
    jobs = upsert(Job, connection.pk, {"j1": {"build_id": build.ids["b1"], "name": "unit", "state": "running"}})

    job = Job.objects.get(pk=jobs.ids["j1"])
    assert (job.depends_on, job.allowed_failure, job.position, job.gone, job.raw) == ([], False, 0, False, {})
    previous = upsert(Job, connection.pk, {"j1": {"build_id": build.ids["b1"], "name": "unit", "state": "passed"}})
    assert previous.previous == {"j1": {}} and Job.objects.get(pk=job.pk).state == "passed"


def test_a_first_sync_of_a_long_history_holds_every_build_and_job_and_the_next_writes_nothing(db):
    sim = PrunnerSimulator("tok", seed=4, scale=Scale(builds=40, jobs=4, arrival_every=0)).serve()
    try:
        connection = make_connection(sim, slug="long")
        first = sync_connection(connection.pk)
        quiet = sync_connection(connection.pk)
    finally:
        sim.stop()
    truth = sim.truth()
    held = dict(Build.objects.filter(connection=connection).values_list("external_id", "state"))
    assert first.status == "ok" and held == truth["builds"]
    assert dict(Job.objects.filter(connection=connection).values_list("external_id", "state")) == truth["jobs"]
    assert (quiet.created, quiet.updated) == (0, 0)


def rows_written_per_table() -> dict[str, int]:
    """Rows inserted, updated or deleted in this transaction so far, per table (PostgreSQL)."""
    with connection_db.cursor() as cursor:
        cursor.execute("SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables")
        return dict(cursor.fetchall())


@pytest.mark.skipif(connection_db.vendor != "postgresql", reason="counts rows through PostgreSQL's statistics")
@pytest.mark.parametrize("kind", ["prunner", "harmont"])
def test_a_quiet_sync_writes_its_connections_row_and_nothing_else(db, kind):
    simulator = {"prunner": PrunnerSimulator, "harmont": HarmontSimulator}[kind]
    sim = simulator("tok", seed=4, scale=Scale(builds=6, jobs=3, arrival_every=0)).serve()
    try:
        connection = make_connection(sim, slug=f"quiet-{kind}")
        sync_connection(connection.pk)
        sync_connection(connection.pk)  # settles anything the first sync left to re-read
        before = rows_written_per_table()
        quiet = sync_connection(connection.pk)
        after = rows_written_per_table()
    finally:
        sim.stop()
    written = {table: after[table] - before.get(table, 0) for table in after if after[table] != before.get(table, 0)}
    assert (quiet.created, quiet.updated) == (0, 0)
    # Its lease taken and given back, and its health, next time and totals: all one row.
    assert set(written) == {"dashboard_connection"}, written


def test_builds_read_concurrently_are_the_same_as_read_one_by_one(db, settings):
    def synced(concurrency: int) -> tuple[dict, dict, int]:
        settings.PROVIDER_CONCURRENCY = concurrency
        sim = HarmontSimulator("tok", seed=6, scale=Scale(projects=2, builds=12, jobs=3, arrival_every=0)).serve()
        try:
            connection = make_connection(sim, slug=f"h{concurrency}")
            run = sync_connection(connection.pk)
        finally:
            sim.stop()
        builds = dict(Build.objects.filter(connection=connection).values_list("external_id", "state"))
        jobs = dict(Job.objects.filter(connection=connection).values_list("external_id", "state"))
        return builds, jobs, run.requests

    assert synced(1) == synced(6)


def test_the_next_page_of_a_listing_is_read_while_a_batch_is_written(db, monkeypatch):
    # Two pipelines ("ci", "release") of 12 builds each: pages of 5, 5 and 2.
    sim = HarmontSimulator("tok", seed=6, scale=Scale(projects=1, builds=12, jobs=2, arrival_every=0)).serve()

    def listings(pipeline: str) -> int:
        return sum(1 for r in list(sim.requests) if r.path.endswith(f"/pipelines/{pipeline}/builds"))

    asked_while_writing: dict[str, list[int]] = {"ci": [], "release": []}
    write = sync_module.apply_batch

    def writing(connection, batch, gathered):
        if batch.builds:
            pipeline = batch.builds[0].external_id.split(":")[1]
            asked = asked_while_writing[pipeline]
            page = len(asked) + 1
            # While a page that is not the last is written, the next one is asked for
            # (waited for here: reading in order would not ask before the write ends).
            deadline = time.monotonic() + 10
            while page < 3 and listings(pipeline) <= page and time.monotonic() < deadline:
                time.sleep(0.01)
            asked.append(listings(pipeline))
        return write(connection, batch, gathered)

    monkeypatch.setattr(sync_module, "apply_batch", writing)
    monkeypatch.setattr("dashboard.sync.LOG_PREFETCH_LIMIT", 0)
    try:
        connection = make_connection(sim, slug="ahead", options={"page_size": 5, "backfill_pages": 10})
        run = sync_connection(connection.pk)
        jobs_asked = [r.path for r in sim.requests if r.path.endswith("/jobs")]
    finally:
        sim.stop()
    assert run.status == "ok"
    assert asked_while_writing == {"ci": [2, 3, 3], "release": [2, 3, 3]}
    # Nothing read twice, and every build there is.
    assert len(jobs_asked) == len(set(jobs_asked)) == 24
    assert Build.objects.filter(connection=connection).count() == 24


def most_at_once(sim, asked) -> list[int]:
    """Hold each request ``asked(request)`` picks until another such is in flight (or
    2 s pass); the list's one value is the most seen in flight at once."""
    respond, in_flight, most = sim._respond, [0], [0]
    lock = threading.Lock()

    def answering(request):
        if not asked(request):
            return respond(request)
        with lock:
            in_flight[0] += 1
        try:
            deadline = time.monotonic() + 2
            while in_flight[0] < 2 and time.monotonic() < deadline:
                time.sleep(0.005)
            with lock:
                most[0] = max(most[0], in_flight[0])
            return respond(request)
        finally:
            with lock:
                in_flight[0] -= 1

    sim._respond = answering
    return most


QUIET_SYNC_READS_TOGETHER = {
    # Two organizations' pipelines, four pipelines' newest builds.
    "harmont pipelines": ("harmont", lambda r: r.path.endswith("/pipelines")),
    "harmont builds": ("harmont", lambda r: r.path.endswith("/builds") and not r.args.get("cursor")),
    # Two projects' workflows, deployment targets, retention policies and deployments.
    "semaphore pipelines": ("semaphore", lambda r: r.path.endswith("/pipelines")),
    "semaphore targets": ("semaphore", lambda r: r.path.endswith("/deployment_targets")),
    "semaphore policies": ("semaphore", lambda r: "/artifacts_retention_policies/" in r.path),
    "semaphore deployments": ("semaphore", lambda r: r.path.endswith("/history")),
    # Two projects' jobs, and their statuses.
    "jobs platform jobs": ("jobsplatform", lambda r: r.path.endswith("/jobs")),
    "jobs platform statuses": ("jobsplatform", lambda r: r.path.endswith("/status")),
}


@pytest.mark.parametrize("reads", list(QUIET_SYNC_READS_TOGETHER))
def test_a_quiet_sync_asks_for_each_projects_listings_together(db, reads):
    """A connection's listings per pipeline or project must not be asked for one after
    the other: at a provider 50 ms away, that is what a quiet sync waits on."""
    kind, asked = QUIET_SYNC_READS_TOGETHER[reads]
    simulator = {"harmont": HarmontSimulator, "semaphore": SemaphoreSimulator, "jobsplatform": JobsPlatformSimulator}[
        kind
    ]
    # The provider's clock stands still between the syncs (a schedule due meanwhile
    # would make the second sync a busy one).
    clock = half_past_a_minute()
    sim = simulator("tok", seed=6, scale=Scale(projects=2, builds=3, jobs=2, arrival_every=0), clock=clock).serve()
    try:
        options = sim.connection_options() if kind == "jobsplatform" else {}
        connection = make_connection(sim, slug="together", options=options)
        assert sync_connection(connection.pk).status == "ok"
        most = most_at_once(sim, asked)
        quiet = sync_connection(connection.pk)
    finally:
        sim.stop()
    assert (quiet.status, quiet.created, quiet.updated) == ("ok", 0, 0)
    assert most[0] >= 2


def test_listings_read_together_give_each_error_where_that_listing_is_read():
    client = HarmontClient("http://127.0.0.1:9", "tok", concurrency=4)
    started: list[str] = []

    def listing(name: str, fails: bool):
        started.append(name)
        if fails:
            raise BadResponse(f"{name} could not be read")
        yield f"{name} 1"
        yield f"{name} 2"

    try:
        a, b, empty = client.first_pages_together([listing("a", False), listing("b", True), iter([])])
    finally:
        client.close()
    assert sorted(started) == ["a", "b"]  # both first pages asked for before either is read
    assert list(a) == ["a 1", "a 2"]
    with pytest.raises(BadResponse, match="b could not be read"):
        next(b)
    assert list(empty) == []


def test_a_sync_that_spends_its_request_budget_read_at_most_two_pages_of_builds_in_vain(db, settings, monkeypatch):
    """Six pipelines of 12 builds, pages of 5, a budget of 40 requests: the sync stops
    part way. Builds read ahead and never stored cost the provider requests for nothing:
    at most a page of the listing being scanned and a page of the next one."""
    monkeypatch.setattr("dashboard.sync.LOG_PREFETCH_LIMIT", 0)
    settings.SYNC_REQUEST_BUDGET = 40
    sim = HarmontSimulator("tok", seed=6, scale=Scale(projects=3, builds=12, jobs=2, arrival_every=0)).serve()
    try:
        connection = make_connection(sim, slug="budget", options={"page_size": 5, "backfill_pages": 10})
        run = sync_connection(connection.pk)
        stored = set(Build.objects.filter(connection=connection).values_list("external_id", flat=True))
        jobs_asked = [r.path for r in sim.requests if r.path.endswith("/jobs")]
    finally:
        sim.stop()
    assert run.status == "partial" and "Stopped after 40 requests" in run.error
    assert 0 < len(stored) < 72
    read_in_vain = [p for p in jobs_asked if ":".join(p.split("/")[4:9:2]) not in stored]
    assert len(read_in_vain) <= 10


def test_a_listing_without_its_mark_reads_nothing_ahead_that_is_held(db):
    """The cursor lost (reset) while the builds are held: each listing is scanned from
    its newest build, which is held as finished, so no build is read again; reading
    the next listings' first pages ahead must not read their builds either."""
    sim = HarmontSimulator("tok", seed=6, scale=Scale(projects=2, builds=6, jobs=2, arrival_every=0)).serve()
    try:
        connection = make_connection(sim, slug="lost")
        assert sync_connection(connection.pk).status == "ok"
        assert Build.objects.filter(connection=connection).exclude(state__in=FINISHED).count() == 0
        Connection.objects.filter(pk=connection.pk).update(sync_cursor={})
        sim.requests.clear()
        again = sync_connection(connection.pk)
        listed = [r.path for r in sim.requests if r.path.endswith("/builds")]
        read = [r.path for r in sim.requests if "/builds/" in r.path]
    finally:
        sim.stop()
    assert again.status == "ok"
    assert len(listed) == 4  # every pipeline's listing was read
    assert read == []


@pytest.mark.parametrize("answer", ["without its list", "refusing the token"])
def test_a_listing_page_that_fails_while_read_ahead_ends_the_scan_as_reading_in_order_does(db, monkeypatch, answer):
    """The second page of one pipeline's builds fails (a page without its list: that
    listing stops and resumes there next time; a refused token: the sync fails). Read
    ahead while the first page is written, the failure must land where reading page by
    page landed it: the same builds stored, the same words, the same requests for jobs,
    and the next sync (the page answering again) the same too."""
    monkeypatch.setattr("dashboard.sync.LOG_PREFETCH_LIMIT", 0)

    def outcome(slug: str, in_order: bool) -> tuple:
        sim = HarmontSimulator("tok", seed=6, scale=Scale(projects=1, builds=12, jobs=2, arrival_every=0)).serve()
        respond, failing = sim._respond, [True]

        def answering(request):
            if failing[0] and request.path.endswith("/pipelines/ci/builds") and request.args.get("cursor"):
                if answer == "refusing the token":
                    return sim.refused(request)
                return sim.json({"next_cursor": None})
            return respond(request)

        sim._respond = answering
        with pytest.MonkeyPatch.context() as patch:
            if in_order:  # the next page is read only when the scan takes it
                patch.setattr(ReadAhead, "start", lambda self, *args, **kwargs: None)
            try:
                connection = make_connection(sim, slug=slug, options={"page_size": 5, "backfill_pages": 10})
                first = sync_connection(connection.pk)
                stored = sorted(Build.objects.filter(connection=connection).values_list("external_id", flat=True))
                jobs_asked = sorted(r.path for r in sim.requests if r.path.endswith("/jobs"))
                failing[0] = False
                second = sync_connection(connection.pk)
                after = Build.objects.filter(connection=connection).count()
            finally:
                sim.stop()
        return first.status, first.error, stored, jobs_asked, second.status, after

    ahead, in_order = outcome("ahead", in_order=False), outcome("in-order", in_order=True)
    jobs_ahead, jobs_in_order = ahead[3], in_order[3]
    assert ahead[:3] + ahead[4:] == in_order[:3] + in_order[4:]
    # What reading ahead may cost when a sync ends early: the next listing's first page
    # of builds was read while the failing one was scanned, and never stored.
    read_in_vain = sorted(set(jobs_ahead) - set(jobs_in_order))
    assert set(jobs_in_order) <= set(jobs_ahead)
    if answer == "refusing the token":
        assert read_in_vain == [
            f"/api/v0/organizations/acme/pipelines/release/builds/{n}/jobs" for n in (10, 11, 12, 8, 9)
        ]
    else:
        assert read_in_vain == []
    status, error, stored, jobs_asked, second_status, after = in_order
    # The first page of "ci" (5 builds) was written before its second page failed.
    assert sum(":ci:" in ext for ext in stored) == 5
    if answer == "refusing the token":
        assert status == "failed" and error
    else:
        assert status != "failed" and "data" in error
        assert sum(":release:" in ext for ext in stored) == 12  # the other listing is read all the same
    assert len(jobs_asked) == len(stored)  # nothing read for a page that was never listed
    assert second_status == "ok" and after == 24


def test_requests_made_together_never_go_past_the_budget(db):
    sim = HarmontSimulator("tok", seed=2, scale=Scale(builds=2, jobs=2, arrival_every=0)).serve()
    client = HarmontClient(sim.url, "tok", budget=5, concurrency=4)
    try:
        with pytest.raises(BudgetExhausted):
            client.concurrently(lambda _: client.user(), range(12))
    finally:
        client.close()
        sim.stop()
    assert client.requests == 5
    assert len(sim.requests) == 5


def test_syncs_of_a_connection_reuse_one_http_client_and_a_new_token_gets_its_own(db):
    sim = PrunnerSimulator("tok", seed=2, scale=Scale(builds=2, jobs=2, arrival_every=0)).serve()
    try:
        connection = make_connection(sim, slug="reuse")
        sync_connection(connection.pk)
        sync_connection(connection.pk)
        assert pool.size() == 1
        connection.token = "another-token"
        connection.save()
        sync_connection(connection.pk)
    finally:
        sim.stop()
    assert pool.size() == 2


def test_a_sync_keeps_its_connections_to_the_provider_and_holds_none_once_done(db, monkeypatch):
    # A Harmont log is a stream the client leaves before its end, which ends its connection.
    monkeypatch.setattr("dashboard.sync.LOG_PREFETCH_LIMIT", 0)
    sim = HarmontSimulator("tok", seed=2, scale=Scale(projects=2, builds=15, jobs=3, arrival_every=0)).serve()
    try:
        connection = make_connection(sim, slug="kept")
        result = sync_connection(connection.pk)
        opened = sim.connections[0]
        deadline = time.monotonic() + 10
        while sim.connections[1] and time.monotonic() < deadline:
            time.sleep(0.02)  # the server sees the client's close a moment later
        left_open = sim.connections[1]
    finally:
        sim.stop()
    assert result.status == "ok" and result.requests >= 30
    # One connection per request in flight at once, not one per request.
    assert opened <= HarmontClient.concurrency + 1, (opened, result.requests)
    assert left_open == 0


def test_a_page_whose_panels_ask_the_provider_nothing_prepares_no_client(db, viewer_client):
    sim = PrunnerSimulator("tok", seed=2, scale=Scale(builds=2, jobs=2, arrival_every=0)).serve()
    try:
        connection = make_connection(sim, slug="quiet-page")
        sync_connection(connection.pk)
        pool.forget()
        sim.requests.clear()
        build = Build.objects.filter(connection=connection).first()
        page = viewer_client.get(reverse("build", args=[connection.kind, connection.slug, build.external_id]))
    finally:
        sim.stop()
    assert page.status_code == 200
    assert sim.requests == [] and pool.size() == 0


def test_a_shared_client_serves_threads_at_once(db):
    sim = HarmontSimulator("tok", seed=2, scale=Scale(builds=2, jobs=2, arrival_every=0)).serve()
    answers: list[dict] = []
    try:
        clients = [HarmontClient(sim.url, "tok", share_as="1:sync") for _ in range(4)]
        threads = [threading.Thread(target=lambda c=c: answers.append(c.user())) for c in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for client in clients:
            client.close()  # leaves the shared one open for the next user
        assert HarmontClient(sim.url, "tok", share_as="1:sync").user() == answers[0]
    finally:
        sim.stop()
    assert len(answers) == 4 and all(a == answers[0] for a in answers) and pool.size() == 1


def test_dispatch_takes_the_most_overdue_connections_up_to_its_limit(db, settings):
    settings.SYNC_DISPATCH_LIMIT = 2
    now = timezone.now()
    for i in range(5):
        Connection.objects.create(
            kind="prunner",
            name=f"d{i}",
            slug=f"d{i}",
            base_url="http://127.0.0.1:9",
            token="t",
            next_sync_at=now - timedelta(minutes=i),
        )

    first = dispatch_due()
    second = dispatch_due()

    overdue = list(Connection.objects.order_by("slug").values_list("pk", flat=True))
    assert sorted(first) == sorted(overdue[3:5]) and sorted(second) == sorted(overdue[1:3])


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 11, 27, 21, 4, 5, 123456, tzinfo=UTC),
        datetime(2024, 2, 29, 0, 0, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, tzinfo=timezone.get_fixed_timezone(120)),  # given in another zone
    ],
)
def test_a_timestamp_reads_back_as_the_moment_written(connection, moment):
    # PostgreSQL's timestamps are read by our faster loader (dashboard/dbtime.py).
    Project.objects.create(connection=connection, external_id="p", name="p")
    Build.objects.create(connection=connection, external_id="b", state="passed", created_at=moment)
    read = Build.objects.get(connection=connection, external_id="b").created_at
    assert read == moment and read.utcoffset() == timedelta(0)


def test_a_fingerprint_is_still_the_md5_of_the_rows_sorted_json(connection):
    # Fingerprints are stored: a different spelling would make the next sync rewrite every row.
    fields = {
        "state": State.PASSED,
        "created_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "raw": {"b": [1.5, None, True], "a": "plain text", "3": {"z": 10**18}},
    }
    payload = json.dumps(fields, sort_keys=True, default=str, separators=(",", ":"))
    assert fingerprint(fields) == hashlib.md5(payload.encode(), usedforsecurity=False).hexdigest()


def test_a_row_with_an_integer_beyond_64_bits_is_written_and_read_back_whole(connection):
    project = Project.objects.create(connection=connection, external_id="p", name="p")
    raw = {"id": 2**70, "name": "ü ✓", "ratio": 1e-05}
    row = row_values(Build, {"project_id": project.pk, "state": State.PASSED, "created_at": timezone.now(), "raw": raw})

    first = upsert(Build, connection.pk, {"b": row})
    again = upsert(Build, connection.pk, {"b": row_values(Build, {**row, "raw": dict(raw)})})

    assert Build.objects.get(pk=first.ids["b"]).raw == raw
    assert (first.created, again.unchanged) == (1, 1)  # its fingerprint is stable


def test_a_written_row_holds_enum_values_json_and_cut_strings_as_the_orm_would(connection):
    project = Project.objects.create(connection=connection, external_id="p", name="p")
    values = {"project_id": project.pk, "state": State.FAILED, "created_at": timezone.now(), "title": "t" * 2000}
    values["raw"] = {"nested": {"z": 1, "a": [None, True, "tab\t"]}}
    row = row_values(Build, values)
    result = upsert(Build, connection.pk, {"b": row})

    stored = Build.objects.get(pk=result.ids["b"])
    title_length = Build._meta.get_field("title").max_length
    assert (stored.state, stored.raw, stored.title) == ("failed", values["raw"], "t" * title_length)
    assert stored.fingerprint == fingerprint(row)
    with pytest.raises(FieldDoesNotExist):
        row_values(Build, {**values, "no_such_column": 1})


def test_logs_made_together_are_the_logs_made_one_by_one(connection):
    project = Project.objects.create(connection=connection, external_id="p", name="p")
    build = Build.objects.create(
        connection=connection, project=project, external_id="b", state="passed", created_at=timezone.now()
    )
    jobs = [Job.objects.create(connection=connection, build=build, external_id=f"j{i}", name=f"j{i}") for i in range(4)]
    held = Log.objects.create(job=jobs[2], size=7, cursor={"seq": 3})

    logs = logs_for(jobs)

    assert [log.job_id for log in logs] == [job.pk for job in jobs]
    assert logs[2].pk == held.pk and (logs[2].size, logs[2].cursor) == (7, {"seq": 3})
    assert [log_for(job).pk for job in jobs] == [log.pk for log in logs]
    made = [logs[i] for i in (0, 1, 3)]
    assert [log.pk for log in made] == sorted(log.pk for log in made)  # made in the jobs' order
    assert all((log.size, log.complete, log.cursor, log.fetched_at) == (0, False, {}, None) for log in made)


def test_log_pieces_stored_together_are_stored_as_one_by_one_in_the_same_statements_for_3_or_30(connection):
    project = Project.objects.create(connection=connection, external_id="p", name="p")
    build = Build.objects.create(
        connection=connection, project=project, external_id="b", state="passed", created_at=timezone.now()
    )
    jobs = [
        Job.objects.create(connection=connection, build=build, external_id=f"j{i}", name=f"j{i}") for i in range(36)
    ]
    logs = logs_for(jobs)
    jobs[35].delete()  # its job (and log) removed before the pieces are stored
    store_piece(jobs[33], logs[33], {}, LogPiece("begun\n", {"seq": 1}, False))  # a log with text already
    logs[33].refresh_from_db()
    store_piece(jobs[34], logs[34], {}, LogPiece("stored by a page view\n", {"seq": 9}, False))  # moved on meanwhile
    pieces = [
        (job, log, {}, LogPiece(f"log of {job.external_id}\n", {"seq": 1}, True, exit_code=i % 2))
        for i, (job, log) in enumerate(zip(jobs, logs, strict=True))
    ]
    pieces[33] = (jobs[33], logs[33], {"seq": 1}, LogPiece("ünïcode ends it\n", {"seq": 2}, True, exit_code=3))

    with CaptureQueriesContext(connection_db) as three:
        store_pieces(pieces[:3])
    with CaptureQueriesContext(connection_db) as thirty:
        store_pieces(pieces[3:33])
    stored = store_pieces(pieces[33:])

    assert len(thirty.captured_queries) == len(three.captured_queries)
    texts = {log.job_id: "".join(read(log)) for log in Log.objects.filter(job__in=jobs[:35])}
    assert all(texts[job.pk] == f"log of {job.external_id}\n" for job in jobs[:33])
    codes = dict(Job.objects.filter(pk__in=[job.pk for job in jobs[:33]]).values_list("external_id", "exit_code"))
    assert codes == {f"j{i}": i % 2 for i in range(33)}
    assert texts[jobs[33].pk] == "begun\nünïcode ends it\n" and Job.objects.get(pk=jobs[33].pk).exit_code == 3
    assert texts[jobs[34].pk] == "stored by a page view\n"  # ours was dropped
    assert [(log.complete, log.cursor) for log in stored] == [(True, {"seq": 2}), (False, {"seq": 9}), (False, {})]


def test_membership_in_an_empty_list_asks_nothing(connection, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert list(Build.objects.filter(AnyOf(F("external_id"), []))) == []


def test_timestamps_repeated_in_one_result_read_back_as_written(connection):
    Project.objects.create(connection=connection, external_id="p", name="p")
    first, second = datetime(2026, 11, 27, 21, 4, 5, 123456, tzinfo=UTC), datetime(2026, 11, 27, 21, 4, 5, tzinfo=UTC)
    moments = [first, second, first, second, second, datetime(1, 1, 1, tzinfo=UTC), first]
    for i, moment in enumerate(moments):
        Build.objects.create(connection=connection, external_id=f"b{i}", state="passed", created_at=moment)
    read = list(Build.objects.filter(connection=connection).order_by("pk").values_list("created_at", flat=True))
    assert read == moments and all(r.utcoffset() == timedelta(0) for r in read)


def test_membership_by_integer_keys_is_asked_in_the_columns_type(connection):
    # psycopg would send small ids as smallint[]: compared with a bigint column the server
    # then checks every element for every row instead of hashing the list.
    Project.objects.create(connection=connection, external_id="p", name="p")
    made = [
        Build.objects.create(connection=connection, external_id=f"b{i}", state="passed", created_at=timezone.now())
        for i in range(3)
    ]
    wanted = [made[0].pk, made[2].pk]
    queryset = Build.objects.filter(AnyOf(F("pk"), wanted))
    sql, _ = queryset.query.sql_with_params()
    if connection_db.vendor == "postgresql":
        assert f"= ANY(%s::{Build._meta.pk.db_type(connection_db)}[])" in sql
    assert sorted(queryset.values_list("pk", flat=True)) == sorted(wanted)
    assert list(Build.objects.filter(AnyOf(F("external_id"), ["b1", "nope"])).values_list("pk", flat=True)) == [
        made[1].pk
    ]


def test_logs_fetched_together_are_stored_up_to_the_error_that_ends_the_sync_each_other_failure_a_problem(
    db, monkeypatch
):
    monkeypatch.setattr("dashboard.sync.LOG_PREFETCH_LIMIT", 0)  # the sync itself stores none
    sim = PrunnerSimulator("tok", seed=4, scale=Scale(builds=3, jobs=2, arrival_every=0)).serve()
    try:
        connection = make_connection(sim, slug="prefetch")
        sync_connection(connection.pk)
        finished = Job.objects.filter(connection=connection, state__in=[State.PASSED, State.FAILED])
        jobs = list(finished.exclude(log__complete=True))  # with a log to fetch, in the jobs' order
        assert len(jobs) >= 4
        Job.objects.filter(pk__in=[j.pk for j in jobs]).update(finished_at=timezone.now())  # just finished
        adapter = adapter_class("prunner")(connection)
        fetch = adapter.fetch_log
        failing = {jobs[0].external_id: BadResponse("no such output"), jobs[2].external_id: AuthError("token revoked")}

        def fetch_or_fail(job, cursor):
            if job.external_id in failing:
                raise failing[job.external_id]
            return fetch(job, cursor)

        monkeypatch.setattr(adapter, "fetch_log", fetch_or_fail)
        monkeypatch.setattr("dashboard.sync.LOG_PREFETCH_LIMIT", 50)
        with pytest.raises(AuthError, match="token revoked"):
            sync_module.prefetch_logs(adapter, [j.pk for j in jobs])
        stored = set(Log.objects.filter(job__in=jobs, complete=True).values_list("job__external_id", flat=True))
        assert stored == {jobs[1].external_id}  # the logs before the revoked token, but the one that failed

        del failing[jobs[2].external_id]  # the token works again
        problems = sync_module.prefetch_logs(adapter, [j.pk for j in jobs])
        adapter.close()
    finally:
        sim.stop()
    assert problems == [f"log of job {jobs[0].external_id}: no such output"]
    stored = set(Log.objects.filter(job__in=jobs, complete=True).values_list("job__external_id", flat=True))
    assert stored == {job.external_id for job in jobs[1:]}
