"""prunner -> neutral models, task logs, and the schedule and cancel buttons.

Sync: one ``GET /pipelines/jobs`` gives every pipeline and every job prunner retains
(newest first, no paging). Jobs we already hold as finished are skipped; the others are
written from that answer, which is the same job object ``/job/detail`` returns (both are
prunner's ``jobToResult``), so no job is fetched twice. The cursor keeps the ids listed
last time: a job that is no longer listed was dropped by prunner's retention and is
marked gone (kept in our history).

Logs: ``GET /job/logs`` returns a task's whole stdout and stderr. The cursor keeps how
much of each we have; new stdout is stored as it is, new stderr with every line wrapped
in red (SGR 31), so the two stay distinguishable in the one log we keep. prunner does not
record how the two streams interleave: within one fetch, stdout comes first.
``panel_context`` fetches both for ``job_panel.html`` (a live panel), which shows them
side by side."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django.urls import reverse

from dashboard.ansi import to_html
from providers.base.adapter import Action, Adapter, Capability
from providers.base.errors import NotFound, ProviderError
from providers.base.parse import integer, items, obj, text
from providers.base.records import ActionResult, Batch, Listing, LogPiece, SyncContext

from .client import SERVICE_SUBJECT, PrunnerClient
from .forms import ScheduleForm
from .mapping import ENDED, build_record, pipeline_record, split_task_id

if TYPE_CHECKING:
    from dashboard.models import Build, Job, Pipeline

BATCH_SIZE = 100
PANEL_TAIL = 64 * 1024  # characters of each stream shown in the panel
RED, RESET = "\x1b[31m", "\x1b[0m"
NOT_SCHEDULABLE = (
    "prunner would refuse a new job now: this pipeline is at its concurrency limit and its queue is disabled or full."
)


NOT_DEFINED = "prunner no longer defines this pipeline (it was removed from its pipelines.yml)."


def not_schedulable(pipeline: Any) -> str:
    raw = obj(getattr(pipeline, "raw", None))
    if raw.get("defined") is False:
        return NOT_DEFINED
    return NOT_SCHEDULABLE if raw.get("schedulable") is False else ""


def username(user: Any) -> str:
    name = user.get_username() if hasattr(user, "get_username") else ""
    return name or SERVICE_SUBJECT


def red_lines(text_: str) -> str:
    """Wrap each line's text (not its newline) in red."""
    return "\n".join(f"{RED}{line}{RESET}" if line else "" for line in text_.split("\n"))


def render_streams(stdout: str, stderr: str, open_line: str) -> tuple[str, str]:
    """New stdout and stderr as one text. ``open_line`` names the stream whose last line
    is unfinished ("" when at a line start); a line is ended before switching streams."""
    out = []
    for stream, piece in (("stdout", stdout), ("stderr", stderr)):
        if not piece:
            continue
        if open_line and open_line != stream:
            out.append("\n")
        out.append(piece if stream == "stdout" else red_lines(piece))
        open_line = "" if piece.endswith("\n") else stream
    return "".join(out), open_line


class PrunnerAdapter(Adapter):
    kind = "prunner"
    client_class = PrunnerClient
    capabilities = frozenset({Capability.LOGS, Capability.LIVE_LOGS, Capability.JOB_DAG})
    actions = (
        Action(
            name="schedule",
            label="Schedule",
            target="pipeline",
            form=ScheduleForm,
            unavailable=not_schedulable,
            help="Start a job of this pipeline with variables; prunner queues it if the pipeline is busy.",
        ),
        Action(
            name="cancel",
            label="Cancel",
            target="build",
            destructive=True,
            applies=lambda build: not build.finished and not build.gone,
            help="Stops all its tasks; prunner does not wait for them to end.",
        ),
    )
    live_panels = frozenset({"job_panel"})
    client: PrunnerClient

    # Connection check --------------------------------------------------------------------
    def check(self) -> str:
        return f"ok: {len(self.client.pipelines())} pipeline(s)"

    # Sync --------------------------------------------------------------------------------
    def sync(self, ctx: SyncContext) -> Iterator[Batch]:
        pipelines, jobs = self.client.pipelines_jobs()
        first = Batch()
        for raw in pipelines:
            record = pipeline_record(raw)
            if record:
                first.pipelines.append(record)
            else:
                first.problems.append("a pipeline without a name was skipped")
        names = sorted(p.external_id for p in first.pipelines)
        # A pipeline dropped from prunner's config keeps its row (and its builds), marked.
        for name in sorted({n for n in items(ctx.cursor.get("pipelines")) if isinstance(n, str)} - set(names)):
            first.pipelines.append(pipeline_record({"pipeline": name, "schedulable": False, "running": False}))
            first.pipelines[-1].raw["defined"] = False
        yield first

        jobs = [obj(job) for job in jobs]
        listed = [text(job.get("id")) for job in jobs]
        finished: set[str] = set()
        for start in range(0, len(listed), BATCH_SIZE):  # bounded IN lists, whatever prunner retains
            finished |= ctx.finished_ids(listed[start : start + BATCH_SIZE])
        fresh = [job for job, job_id in zip(jobs, listed, strict=True) if job_id and job_id not in finished]
        for start in range(0, len(fresh), BATCH_SIZE):
            batch = Batch()
            batch.builds = [r for r in map(build_record, fresh[start : start + BATCH_SIZE]) if r]
            yield batch

        seen = {job_id for job_id in listed if job_id}
        # An unchanged listing leaves the stored cursor alone: a quiet sync writes nothing.
        cursor = {"pipelines": names}
        last = Batch(listings=[Listing("build", seen)], cursor=cursor if cursor != ctx.cursor else None)
        nameless = listed.count("")
        if nameless:
            last.problems.append(f"{nameless} listed job(s) without an id were skipped")
        yield last

    # Logs --------------------------------------------------------------------------------
    def fetch_log(self, job: Job, cursor: dict) -> LogPiece:
        job_id, task = split_task_id(job.external_id)
        complete = job.finished or job.raw_state in ENDED
        try:
            stdout, stderr = self.client.logs(job_id, task)
        except NotFound as exc:
            if "Job not found" in exc.message:
                # Retention removed the job and its output: nothing will ever come.
                return LogPiece(f"\x1b[2m(prunner no longer has this task's output: {exc})\x1b[0m\n", cursor, True)
            return LogPiece("", cursor, complete=complete)
        seen_out, seen_err = integer(cursor.get("stdout")) or 0, integer(cursor.get("stderr")) or 0
        piece, open_line = render_streams(stdout[seen_out:], stderr[seen_err:], text(cursor.get("open")))
        new_cursor = {"stdout": max(len(stdout), seen_out), "stderr": max(len(stderr), seen_err), "open": open_line}
        return LogPiece(piece, new_cursor, complete=complete)

    def panel_context(self, obj_: Any, request: Any, name: str) -> dict:
        """``build_panel``: the job's variables, user and last error, from what we store.
        ``job_panel`` (live): the task's stdout and stderr, fetched now. Both under
        ``panel``; a failure to ask prunner is raised for the page to show."""
        if name == "job_panel":
            return {"panel": self.task_streams(obj_)}
        if name == "build_panel":
            raw = obj(obj_.raw)
            variables = sorted(obj(raw.get("variables")).items())
            return {
                "panel": {
                    "variables": [(key, json.dumps(value, ensure_ascii=False)) for key, value in variables],
                    "user": text(raw.get("user")),
                    "last_error": text(raw.get("lastError"), 2000),
                }
            }
        return {}

    def task_streams(self, job: Job) -> dict:
        job_id, task = split_task_id(job.external_id)
        stdout, stderr = self.client.logs(job_id, task)
        streams: dict[str, Any] = {"task": task, "live": not job.finished}
        for stream, value in (("stdout", stdout), ("stderr", stderr)):
            streams[f"{stream}_size"] = len(value)
            streams[f"{stream}_truncated"] = len(value) > PANEL_TAIL
            streams[f"{stream}_html"] = to_html(value[-PANEL_TAIL:])
        return streams

    # Actions -----------------------------------------------------------------------------
    def do_schedule(self, pipeline: Pipeline, params: dict, user: Any) -> ActionResult:
        name = pipeline.external_id
        with self.client.acting_as(username(user)):
            job_id = self.client.schedule(name, params.get("variables") or {}, params.get("queue_partition") or "")
        refresh = self.refreshed(job_id)
        state = refresh.builds[0].state if refresh and refresh.builds else "scheduled"
        path = reverse("build", kwargs={"kind": self.kind, "slug": self.connection.slug, "external_id": job_id})
        return ActionResult(f"Scheduled {name}: job {job_id[:8]} is {state}.", refresh=refresh, redirect=path)

    def do_cancel(self, build: Build, params: dict, user: Any) -> ActionResult:
        try:
            with self.client.acting_as(username(user)):
                self.client.cancel(build.external_id)
        except NotFound as exc:
            raise NotFound(
                f"prunner no longer has this job (removed by its retention?): {exc}", status=exc.status, body=exc.body
            ) from exc
        refresh = self.refreshed(build.external_id)
        record = refresh.builds[0] if refresh and refresh.builds else None
        if record is not None and record.state == "canceled":
            return ActionResult("prunner canceled the job.", refresh=refresh)
        return ActionResult("prunner is cancelling the job; its tasks are being stopped.", refresh=refresh)

    def refreshed(self, job_id: str) -> Batch | None:
        """The job and the pipelines as they are right after an action; None when prunner
        cannot tell us now (the next sync will)."""
        try:
            pipelines = self.client.pipelines()
            record = build_record(self.client.job(job_id))
        except ProviderError:
            return None
        return Batch(
            pipelines=[p for p in map(pipeline_record, pipelines) if p],
            builds=[record] if record else [],
        )
