"""Finished builds exported as OpenTelemetry traces to a loopback OTLP receiver: span
names, parent and child, CI/CD attributes, real start and end times, and each build
exactly once."""

import pytest
from django.test import override_settings

from dashboard.models import Build
from dashboard.states import FINISHED
from dashboard.sync import sync_connection
from dashboard.telemetry.models import TraceExport
from dashboard.telemetry.tasks import export_build_traces, export_once
from dashboard.telemetry.traces import ExportFailed, nanos

from .otlp_receiver import serve

SERVER, INTERNAL = 2, 1  # the protobuf's SpanKind values
ERROR = 2  # Status.code


@pytest.fixture
def collector(settings):
    receiver, server = serve()
    settings.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url
    settings.OTEL_EXPORT_TIMEOUT = 2
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def finished(semaphore):
    sync_connection(semaphore.pk)
    builds = list(Build.objects.filter(state__in=FINISHED).select_related("pipeline").prefetch_related("jobs"))
    assert builds
    return builds


def test_a_finished_build_becomes_a_trace(collector, finished):
    build = next(b for b in finished if b.jobs.count() > 1 and b.started_at and b.finished_at)
    assert export_build_traces.apply(args=[[build.pk]]).get() == 1

    assert collector.paths == ["/v1/traces"]
    spans = collector.spans
    root = next(s for s in spans if not s.parent_span_id)
    children = [s for s in spans if s.parent_span_id]
    assert root.name == f"RUN {build.pipeline.name}" and root.kind == SERVER
    assert root.start == nanos(build.started_at) and root.end == nanos(build.finished_at)
    assert root.attributes["cicd.pipeline.name"] == build.pipeline.name
    assert root.attributes["cicd.pipeline.run.id"] == build.external_id
    assert root.attributes["cicd.pipeline.result"] == {"passed": "success", "failed": "failure"}.get(
        build.state, root.attributes["cicd.pipeline.result"]
    )
    assert root.attributes["vcs.ref.head.name"] == build.branch
    assert root.attributes["vcs.ref.head.revision"] == build.commit_sha
    assert root.resource["service.name"] == "ci-dashboard"
    if build.state == "failed":
        assert root.status_code == ERROR

    jobs = {j.external_id: j for j in build.jobs.all()}
    assert {c.attributes["cicd.pipeline.task.run.id"] for c in children} == set(jobs)
    for child in children:
        job = jobs[child.attributes["cicd.pipeline.task.run.id"]]
        assert child.name == job.name and child.kind == INTERNAL
        assert child.trace_id == root.trace_id and child.parent_span_id == root.span_id
        assert child.attributes["cicd.pipeline.task.name"] == job.name
        expected = {"passed": "success", "failed": "failure", "canceled": "cancellation", "skipped": "skip"}
        assert child.attributes["cicd.pipeline.task.run.result"] == expected[job.state]
        if job.started_at and job.finished_at:
            assert (child.start, child.end) == (nanos(job.started_at), nanos(job.finished_at))
        assert root.start <= child.start <= child.end
        waited_for = [d for d in job.depends_on if d in jobs]
        assert len(child.links) == len(waited_for)


def test_each_build_is_exported_once(collector, finished):
    ids = [b.pk for b in finished]
    assert export_build_traces.apply(args=[ids]).get() == len(ids)
    assert export_build_traces.apply(args=[ids]).get() == 0
    assert len(collector.requests) == len(ids)
    roots = [s for s in collector.spans if not s.parent_span_id]
    assert len({s.trace_id for s in roots}) == len(ids)
    assert TraceExport.objects.filter(exported_at__isnull=False).count() == len(ids)


def test_a_refused_export_is_tried_again(collector, finished):
    build = finished[0]
    collector.fail_with = 400
    with pytest.raises(ExportFailed):
        export_once(build.pk, collector.url)
    row = TraceExport.objects.get(build=build)
    assert row.exported_at is None and row.attempts == 1 and "did not accept" in row.last_error

    collector.fail_with = None
    assert export_once(build.pk, collector.url) is True
    assert len(collector.requests) == 1


def test_same_ids_when_a_build_is_sent_again(collector, finished):
    build = finished[0]
    export_once(build.pk, collector.url)
    first = sorted((s.trace_id, s.span_id) for s in collector.spans)
    TraceExport.objects.update(exported_at=None)  # as if the worker died before noting it
    export_once(build.pk, collector.url)
    spans = collector.spans
    assert sorted((s.trace_id, s.span_id) for s in spans[len(first) :]) == first


def test_unfinished_builds_are_not_exported(collector, semaphore):
    sync_connection(semaphore.pk)
    running = Build.objects.exclude(state__in=FINISHED).first()
    if running is None:  # this world's builds have all ended: one still runs, as far as we know
        running = Build.objects.first()
        Build.objects.filter(pk=running.pk).update(state="running", finished_at=None)
    assert export_once(running.pk, collector.url) is False
    assert collector.requests == []


@override_settings(OTEL_EXPORTER_OTLP_ENDPOINT="")
def test_off_without_an_endpoint(finished):
    assert export_build_traces.apply(args=[[b.pk for b in finished]]).get() == 0
    assert not TraceExport.objects.exists()
