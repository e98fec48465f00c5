"""prunner -> the sync engine: the sync and task logs. See docs/providers/prunner.md.

Sync: one ``GET /pipelines/jobs`` gives every pipeline and every job prunner retains
(newest first, no paging), each job as ``/job/detail`` would answer it. Jobs we hold as
finished are skipped; the others, and the ones the engine hands over to read again, are
written from that answer, so no job is fetched twice. The answer is a complete listing:
a job it no longer shows was dropped by prunner (retention, a restart without its store)
and the engine marks it gone once that holds. An answer without its ``jobs`` list says
nothing about the jobs: the pipelines are still stored, the problem is said, and the
unfinished jobs we hold are read one by one instead.

Logs: ``GET /job/logs`` returns a task's whole stdout and stderr. The cursor keeps how
much of each we have; new stdout is stored as it is, new stderr with every line wrapped
in red (SGR 31), so the two stay distinguishable in the one log we keep. prunner does not
record how the two streams interleave: within one fetch, stdout comes first."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from providers.base.adapter import Adapter, Capability
from providers.base.errors import BadResponse, NotFound
from providers.base.parse import integer, obj, text
from providers.base.records import Batch, BuildRecord, HeldBuild, Listing, LogPiece, SyncContext

from .actions import actions
from .client import PrunnerClient
from .mapping import ENDED, build_record, pipeline_records, split_task_id
from .panels import panels

if TYPE_CHECKING:
    from dashboard.models import Job

# Jobs per batch (one transaction): few enough to commit often, many enough that a
# batch's fixed statements cost little per job.
BATCH_SIZE = 500
RED, RESET = "\x1b[31m", "\x1b[0m"
NO_JOBS = (
    "prunner's /pipelines/jobs answer lacked its jobs list: nothing was concluded from it, "
    "the unfinished jobs we hold were read one by one"
)
MISSING_TASKS = "prunner's answer lacked the job's tasks"
NO_PIPELINES = "prunner's /pipelines/jobs answer lacked its pipelines list: the pipelines were left as they were"


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
    actions = actions
    panels = panels
    client: PrunnerClient

    def check(self) -> str:
        return f"ok: {len(self.client.pipelines())} pipeline(s)"

    # Sync --------------------------------------------------------------------------------
    def sync(self, ctx: SyncContext) -> Iterator[Batch]:
        answer = self.client.pipelines_jobs()
        first = Batch()
        if answer.pipelines is None:
            first.problems.append(NO_PIPELINES)
        else:
            stored = None
            if answer.jobs is None:  # keep the wait-list counts we had
                stored = {r["external_id"]: r["raw"] for r in ctx.stored("pipeline", ("external_id", "raw"))}
            first.pipelines = pipeline_records(answer.pipelines, answer.jobs, stored)
            if len(first.pipelines) < len(answer.pipelines):
                first.problems.append(f"{len(answer.pipelines) - len(first.pipelines)} pipeline(s) without a name")
            else:  # a complete listing: a pipeline it lacks was removed from prunner's pipelines.yml
                first.listings.append(Listing("pipeline", {p.external_id for p in first.pipelines}))
        if answer.jobs is None:
            first.problems.append(NO_JOBS)
            yield first
            yield from self.repoll(ctx)
            return
        yield first
        yield from self.listed(ctx, answer.jobs)

    def listed(self, ctx: SyncContext, jobs: list) -> Iterator[Batch]:
        """The jobs of a complete listing that we do not hold as finished, or that the
        engine wants read again, and the listing itself as evidence."""
        held = {h.external_id: h for h in ctx.repoll}
        jobs = [obj(job) for job in jobs]
        ids = [text(job.get("id")) for job in jobs]
        finished: set[str] = set()
        for start in range(0, len(ids), BATCH_SIZE):  # bounded IN lists, whatever prunner retains
            finished |= ctx.finished_ids(ids[start : start + BATCH_SIZE])
        fresh = [job for job, i in zip(jobs, ids, strict=True) if i and (i not in finished or i in held)]
        for start in range(0, len(fresh), BATCH_SIZE):
            batch = Batch()
            for job in fresh[start : start + BATCH_SIZE]:
                record = self.attempt(
                    batch, f"job {text(job.get('id'))}", self.record, job, held.get(text(job.get("id")))
                )
                if record is not None:
                    batch.builds.append(record)
            yield batch
        last = Batch(listings=[Listing("build", {i for i in ids if i})])
        if "" in ids:
            last.problems.append(f"{ids.count('')} listed job(s) without an id were skipped")
        yield last

    def read_build(self, held: HeldBuild) -> BuildRecord | None:
        """``GET /job/detail``; prunner's 404 ``Job not found`` raises NotFound."""
        return self.record(self.client.job(held.external_id), held)

    def record(self, job: dict, held: HeldBuild | None) -> BuildRecord | None:
        """The build for a job prunner answered with. An answer without the job's tasks
        is not used for a build whose tasks we hold (they would stay as they were
        while the build moved on): it is read again at the next sync."""
        record = build_record(job, held_raw=held.raw if held else None)
        if record is not None and record.jobs is None and held is not None and held.jobs:
            raise BadResponse(f"{MISSING_TASKS}; it is read again at the next sync")
        return record

    # Logs --------------------------------------------------------------------------------
    def fetch_log(self, job: Job, cursor: dict) -> LogPiece:
        job_id, task = split_task_id(job.external_id)
        complete = job.finished or job.raw_state in ENDED
        try:
            stdout, stderr = self.client.logs(job_id, task)
        except NotFound as exc:
            if job.build.gone:
                # prunner dropped the job and its output: nothing will ever come.
                note = f"\x1b[2m(prunner no longer has this task's output: {exc})\x1b[0m\n"
                return LogPiece(note, cursor, True)
            raise
        seen_out, seen_err = integer(cursor.get("stdout")) or 0, integer(cursor.get("stderr")) or 0
        piece, open_line = render_streams(stdout[seen_out:], stderr[seen_err:], text(cursor.get("open")))
        new_cursor = {"stdout": max(len(stdout), seen_out), "stderr": max(len(stderr), seen_err), "open": open_line}
        return LogPiece(piece, new_cursor, complete=complete)
