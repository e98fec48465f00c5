"""Nothing lost, nothing invented: every provider, under every fault its simulator can
produce. While the fault lasts the connection's health says so; once it clears, two
syncs bring the database back to the provider's truth (no build lost, none wrongly
gone, none doubled, no state moved backwards), and no sync exceeds its request budget.

The simulators' ``truth()`` is what the provider holds, from its own world model."""

from __future__ import annotations

import pytest

from dashboard.models import Build, Connection, Health, Job, SyncRun
from dashboard.states import FINISHED
from dashboard.sync import sync_connection
from providers.base.sim import Clock, Faults, Scale
from providers.registry import KINDS, simulator_class
from tests.conftest import TOKEN

BUDGET = 400
FAULTS = {
    "5xx": (Faults(error_rate=1.0), "error_rate"),
    "429-long": (Faults(rate_limit_rate=1.0, retry_after=120), "rate_limit_rate"),
    "hang": (Faults(timeout_rate=1.0, timeout_seconds=1.5), "timeout_rate"),
    "truncated": (Faults(malformed_rate=0.5), "malformed_rate"),
    "unknown-enum": (Faults(unknown_enum_rate=1.0), "unknown_enum_rate"),
    "missing-key": (Faults(missing_key_rate=1.0), "missing_key_rate"),
    "empty-list": (Faults(empty_list_rate=1.0), "empty_list_rate"),
    "404-burst": (Faults(not_found_rate=1.0), "not_found_rate"),
    "repeated-page": (Faults(repeated_page_rate=1.0), "repeated_page_rate"),
    "endless-pages": (Faults(endless_pages=1.0), "endless_pages"),
    "redirect": (Faults(redirect_rate=1.0), "redirect_rate"),
    "bad-token": (Faults(auth_fail_rate=1.0), "auth_fail_rate"),
}
# Faults whose effect is a value shown as it is ("unknown: <raw>"), not trouble.
HARMLESS = {"unknown-enum"}


@pytest.fixture
def bounded(settings):
    settings.SYNC_REQUEST_BUDGET = BUDGET
    settings.PROVIDER_TIMEOUT = 0.5
    settings.SYNC_TIME_LIMIT = 30
    # Deletions still need two syncs that agree, but no wait in between; a listing that
    # drops most rows at once keeps its long wait.
    settings.GONE_CONFIRM_SECONDS = 0


def database_versus_truth(connection: Connection, truth: dict) -> list[str]:
    wrong = []
    held = {b.external_id: b for b in Build.objects.filter(connection=connection)}
    for external_id, state in truth["builds"].items():
        build = held.get(external_id)
        if build is None:
            wrong.append(f"build {external_id} lost")
        elif build.gone or build.state != state:
            wrong.append(f"build {external_id}: {build.state}{' (gone)' if build.gone else ''}, truth {state}")
    for external_id, build in held.items():
        if external_id not in truth["builds"] and not build.gone:
            wrong.append(f"build {external_id} invented (the provider does not have it)")
    jobs = dict(Job.objects.filter(connection=connection).values_list("external_id", "state"))
    for external_id, state in truth.get("jobs", {}).items():
        if jobs.get(external_id) != state:
            wrong.append(f"job {external_id}: {jobs.get(external_id)}, truth {state}")
    return wrong


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("kind", list(KINDS))
def test_the_sync_stays_true_under_the_fault(kind, fault, db, bounded):
    sim = simulator_class(kind)(
        TOKEN, seed=3, scale=Scale(projects=2, builds=4, jobs=3, arrival_every=30), clock=Clock(manual=True)
    ).serve()
    try:
        try:
            sim.truth()
        except NotImplementedError:
            pytest.skip(f"the {kind} simulator cannot tell its truth yet")
        connection = Connection.objects.create(
            kind=kind, name=kind, slug="faulty", base_url=sim.url, token=sim.token, options=sim.connection_options()
        )
        sync_connection(connection.pk)
        sim.clock.advance(31)
        sync_connection(connection.pk)
        before = dict(Build.objects.filter(connection=connection).values_list("external_id", "state"))

        sim.clock.advance(31)  # new builds, some running ones finished: unseen yet
        faults, name = FAULTS[fault]
        sim.faults = faults
        during = [sync_connection(connection.pk) for _ in range(2)]
        connection.refresh_from_db()
        if sim.applied[name] and fault not in HARMLESS:
            assert connection.health != Health.OK or any(r.status != SyncRun.Status.OK for r in during), (
                f"{fault} hit {sim.applied[name]} answers but health stayed ok"
            )
        for build in Build.objects.filter(connection=connection, external_id__in=before):
            if before[build.external_id] in FINISHED:
                assert build.state == before[build.external_id], f"{build.external_id} moved backwards"

        sim.faults = Faults()
        after = [sync_connection(connection.pk) for _ in range(2)]

        assert database_versus_truth(connection, sim.truth()) == []
        connection.refresh_from_db()
        assert connection.health == Health.OK, connection.last_error
        assert all(run.requests <= BUDGET for run in during + after)
    finally:
        sim.stop()
