"""A finished build as an OpenTelemetry trace, following the CI/CD semantic conventions:
one SERVER span for the pipeline run (``RUN <pipeline>``), a child span per job (a task
run), each at the build's and jobs' real start and end, with ``cicd.*`` and ``vcs.*``
attributes. A job's span links to the spans of the jobs it waited for.

Trace and span ids are derived from the provider's ids, so sending a build twice (a
worker that died after sending) gives the same trace, which tracing backends merge."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.urls import reverse
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from dashboard.models import Build, Job
from dashboard.states import State

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SCOPE = "ci-dashboard.builds"

# Neutral state -> cicd.pipeline.result / cicd.pipeline.task.run.result.
RESULTS = {
    State.PASSED: "success",
    State.FAILED: "failure",
    State.CANCELED: "cancellation",
    State.SKIPPED: "skip",
}


class ExportFailed(Exception):
    """The collector did not accept the trace; the task tries again later."""


def nanos(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1) * 1000


def _id(key: str, bits: int) -> int:
    value = int.from_bytes(hashlib.sha256(key.encode()).digest()[: bits // 8], "big")
    return value or 1  # zero is the invalid id


def build_key(build: Build) -> str:
    return f"{build.connection.kind}/{build.connection.slug}/{build.external_id}"


def trace_id_of(build: Build) -> int:
    return _id(f"trace:{build_key(build)}", 128)


def span_id_of(build: Build, job_external_id: str | None = None) -> int:
    return _id(f"span:{build_key(build)}:{job_external_id or ''}", 64)


class PlannedIds(IdGenerator):
    """Hands the SDK the ids we planned for the span about to start."""

    def __init__(self, trace_id: int):
        self.trace_id = trace_id
        self.next_span_id = 0

    def generate_trace_id(self) -> int:
        return self.trace_id

    def generate_span_id(self) -> int:
        return self.next_span_id


def result_of(state: str) -> str:
    return RESULTS.get(state, "error")


def _status(result: str, raw_state: str) -> Status:
    if result in ("failure", "error"):
        return Status(StatusCode.ERROR, raw_state or result)
    return Status(StatusCode.UNSET)


def _times(start: datetime | None, end: datetime | None, fallback: datetime) -> tuple[datetime, datetime]:
    start = start or end or fallback
    end = end or start
    return start, max(start, end)


def _clean(attributes: dict) -> dict:
    return {k: v for k, v in attributes.items() if v not in (None, "")}


def build_attributes(build: Build) -> dict:
    result = result_of(build.state)
    pipeline = build.pipeline.name if build.pipeline else (build.project.name if build.project else "")
    return _clean(
        {
            "cicd.pipeline.name": pipeline or build.external_id,
            "cicd.pipeline.run.id": build.external_id,
            "cicd.pipeline.run.url.full": build.web_url,
            "cicd.pipeline.action.name": "RUN",
            "cicd.pipeline.result": result,
            "error.type": (build.raw_state or result) if result in ("failure", "error") else None,
            "vcs.ref.head.name": build.branch,
            "vcs.ref.head.type": "branch" if build.branch else None,
            "vcs.ref.head.revision": build.commit_sha,
            "ci_dashboard.provider": build.connection.kind,
            "ci_dashboard.connection": build.connection.slug,
            "ci_dashboard.project": build.project.name if build.project else None,
            "ci_dashboard.build.number": build.number,
            "ci_dashboard.build.title": build.title,
            "ci_dashboard.build.raw_state": build.raw_state,
            "ci_dashboard.url.path": reverse(
                "build", args=[build.connection.kind, build.connection.slug, build.external_id]
            ),
        }
    )


def job_attributes(build: Build, job: Job) -> dict:
    result = result_of(job.state)
    return _clean(
        {
            "cicd.pipeline.name": build_attributes(build)["cicd.pipeline.name"],
            "cicd.pipeline.run.id": build.external_id,
            "cicd.pipeline.task.name": job.name,
            "cicd.pipeline.task.run.id": job.external_id,
            "cicd.pipeline.task.run.result": result,
            "error.type": (job.raw_state or result) if result in ("failure", "error") else None,
            "process.exit.code": job.exit_code,
            "ci_dashboard.job.group": job.group,
            "ci_dashboard.job.allowed_failure": job.allowed_failure or None,
            "ci_dashboard.job.raw_state": job.raw_state,
        }
    )


@contextmanager
def _tracer(build: Build) -> Iterator[tuple[trace.Tracer, PlannedIds, InMemorySpanExporter]]:
    ids = PlannedIds(trace_id_of(build))
    collected = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": settings.OTEL_SERVICE_NAME}), id_generator=ids)
    provider.add_span_processor(SimpleSpanProcessor(collected))
    try:
        yield provider.get_tracer(SCOPE), ids, collected
    finally:
        provider.shutdown()


def build_spans(build: Build, jobs: list[Job]) -> list[ReadableSpan]:
    """The build's root span and its jobs' spans, ready to export."""
    job_ends = [j.finished_at for j in jobs if j.finished_at]
    build_start, build_end = _times(
        build.started_at or build.created_at, build.finished_at or max(job_ends, default=None), build.created_at
    )
    with _tracer(build) as (tracer, ids, collected):
        ids.next_span_id = span_id_of(build)
        root = tracer.start_span(
            f"RUN {build_attributes(build)['cicd.pipeline.name']}",
            kind=SpanKind.SERVER,
            attributes=build_attributes(build),
            start_time=nanos(build_start),
        )
        parent = trace.set_span_in_context(root)
        for job in jobs:
            start, end = _times(job.started_at, job.finished_at, build_end)
            links = [
                Link(SpanContext(ids.trace_id, span_id_of(build, dep), is_remote=False, trace_flags=TraceFlags.SAMPLED))
                for dep in job.depends_on or []
                if isinstance(dep, str) and any(j.external_id == dep for j in jobs)
            ]
            ids.next_span_id = span_id_of(build, job.external_id)
            span = tracer.start_span(
                job.name or job.external_id,
                context=parent,
                kind=SpanKind.INTERNAL,
                attributes=job_attributes(build, job),
                links=links,
                start_time=nanos(start),
            )
            span.set_status(_status(result_of(job.state), job.raw_state))
            span.end(end_time=nanos(end))
        root.set_status(_status(result_of(build.state), build.raw_state))
        root.end(end_time=nanos(build_end))
        return list(collected.get_finished_spans())


def traces_url(endpoint: str) -> str:
    """OTLP/HTTP's traces path under the collector's base URL, as the SDK's own env var means it."""
    return endpoint.rstrip("/") + "/v1/traces"


def export_build(build: Build, endpoint: str) -> int:
    """Send one build's trace; returns the number of spans sent or raises ExportFailed."""
    jobs = list(build.jobs.defer("raw").order_by("position", "id"))
    spans = build_spans(build, jobs)
    exporter = OTLPSpanExporter(endpoint=traces_url(endpoint), timeout=settings.OTEL_EXPORT_TIMEOUT)
    try:
        result = exporter.export(spans)
    finally:
        exporter.shutdown()
    if result is not SpanExportResult.SUCCESS:
        raise ExportFailed(f"the collector at {traces_url(endpoint)} did not accept the trace")
    return len(spans)
