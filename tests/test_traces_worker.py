"""The whole path with a real Celery worker and beat: syncs finish builds, batch_applied
queues their export, the worker sends each build's trace once to a loopback receiver,
however many syncs follow."""

import time

import pytest

from dashboard.models import Build, Connection, SyncRun
from dashboard.states import FINISHED
from dashboard.telemetry.models import TraceExport

from .otlp_receiver import serve
from .test_worker import sim, start_worker, stop, wait_for, worker_env  # noqa: F401 - fixtures

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_worker_exports_each_finished_build_once(sim, worker_env, tmp_path):  # noqa: F811
    receiver, server = serve()
    worker_env["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.url
    connection = Connection.objects.create(
        kind="semaphore", name="t", slug="t", base_url=sim.url, token=sim.token, sync_interval=2
    )
    worker = start_worker(worker_env, tmp_path)
    try:
        finished = wait_for(
            lambda: Build.objects.filter(connection=connection, state__in=FINISHED).count(),
            90,
            "finished builds",
            worker,
            tmp_path,
        )
        wait_for(
            lambda: TraceExport.objects.filter(exported_at__isnull=False).count() >= finished,
            60,
            "their traces",
            worker,
            tmp_path,
        )
        syncs = SyncRun.objects.filter(connection=connection).count()
        wait_for(
            lambda: SyncRun.objects.filter(connection=connection).exclude(status="running").count() >= syncs + 2,
            60,
            "two more syncs",
            worker,
            tmp_path,
        )
        time.sleep(1)  # room for a stray export to arrive, were there one
    finally:
        stop(worker)
        server.shutdown()
        server.server_close()
    roots = [s for s in receiver.spans if not s.parent_span_id]
    exported = set(
        Build.objects.filter(connection=connection, traceexport__exported_at__isnull=False).values_list(
            "external_id", flat=True
        )
    )
    run_ids = [s.attributes["cicd.pipeline.run.id"] for s in roots]
    assert sorted(run_ids) == sorted(exported), "each exported build arrived exactly once"
    assert len(exported) >= finished
