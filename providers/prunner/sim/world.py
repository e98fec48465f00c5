"""The simulated prunner's jobs: scheduling with concurrency, wait lists and their queue
strategies, start delays, cancellation, retention and restarts, driven by the clock, as
prunner b692da9 does them (docs/providers/prunner.md, "As the real server answers").

Everything that happens is an event at a known time (a job arrives, a job ends, a start
delay runs out); ``advance(now)`` handles the events up to ``now`` in time order, so the
state at any moment depends only on the seed and on the requests made so far."""

from __future__ import annotations

import json
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .plans import JobPlan, PipelineDef, plan_job
from .run import Run, TaskRun, TaskView, run_job, waiting_tasks

HISTORY_SPACING = 600.0  # seconds between seeded history jobs of a pipeline
SEEDED_USERS = ["ci-bot", "ci-bot", "j.doe", "m.schmidt", ""]

NO_QUEUE = "concurrency exceeded and queueing disabled for pipeline"
QUEUE_FULL = "concurrency exceeded and queue limit reached for pipeline"


class ScheduleError(Exception):
    pass


class JobNotFound(Exception):
    pass


class AlreadyCompleted(Exception):
    pass


@dataclass(eq=False)
class Job:
    id: str
    seq: int
    pipeline: PipelineDef
    created: float
    variables: dict[str, Any]
    user: str
    partition: str
    plan: JobPlan
    start: float | None = None
    delay_until: float | None = None  # a start delay still running
    canceled_at: float | None = None  # canceled before it started (a request, replaced, a restart)
    cancels: list[float] = field(default_factory=list)
    run: Run | None = None
    end_handled: bool = False
    # prunner restarted while the job ran: its tasks were marked canceled as they were,
    # and it never completes.
    halted_at: float | None = None
    last_error_lost: bool = False  # prunner keeps no lastError over a restart

    def replan(self) -> None:
        self.run = run_job(self.pipeline, self.plan, self.start, self.cancels)

    def halted(self, t: float) -> bool:
        return self.halted_at is not None and t >= self.halted_at

    def completed(self, t: float) -> bool:
        if self.run is None or (self.halted_at is not None and self.halted_at < self.run.end):
            return False
        return t >= self.run.end

    def canceled(self, t: float) -> bool:
        if self.canceled_at is not None and t >= self.canceled_at:
            return True
        if self.halted(t) and not self.completed(t):
            return True
        return self.completed(t) and self.run.canceled

    def running(self, t: float) -> bool:
        return self.start is not None and not self.completed(t) and not self.halted(t)

    def tasks(self, t: float) -> list[TaskRun]:
        tasks = self.run.tasks if self.run is not None else waiting_tasks(self.pipeline, self.plan)
        moment = t if self.halted_at is None else min(t, self.halted_at)
        return [task for task in tasks if task.visible(moment)]

    def views(self, t: float) -> list[tuple[TaskRun, TaskView]]:
        """Each task with what the API shows of it at ``t``."""
        return [(task, task.view(t, self.halted_at)) for task in self.tasks(t)]

    def task(self, name: str, t: float) -> TaskRun | None:
        return next((task for task in self.tasks(t) if task.name == name), None)

    def errored(self, t: float) -> bool:
        return any(view.errored for _, view in self.views(t))

    def last_error(self, t: float) -> str | None:
        if not self.completed(t) or self.last_error_lost:
            return None
        return self.run.last_error


class World:
    def __init__(
        self,
        pipelines: dict[str, PipelineDef],
        *,
        rng: Callable[..., random.Random],
        uuid: Callable[..., str],
        start: float,
        history: int,
        arrival_every: float,
        cancel_rate: float = 0.05,
    ):
        self.pipelines = pipelines
        self.rng = rng
        self.uuid = uuid
        self.start = start
        self.arrival_every = arrival_every
        self.cancel_rate = cancel_rate
        self.jobs: dict[str, Job] = {}
        self.by_pipeline: dict[str, list[Job]] = {name: [] for name in pipelines}
        self.waitlists: dict[str, list[Job]] = {name: [] for name in pipelines}
        self.active: set[Job] = set()
        self.delayed: set[Job] = set()
        self.seq = 0
        self.refused = 0  # seeded arrivals prunner refused (e.g. deploy while one runs)
        self.removed: deque[str] = deque(maxlen=10_000)  # ids dropped by retention, oldest first
        names = list(pipelines)
        self.history = sorted(
            (start - (history - k) * HISTORY_SPACING + (p * 41) % 500 + rng("history", p, k).uniform(0, 30), name, k)
            for p, name in enumerate(names)
            for k in range(max(history, 0))
        )
        self.next_live = 1

    # Events ------------------------------------------------------------------------
    def advance(self, now: float) -> None:
        while True:
            event = self._next_event()
            if event is None or event[0] > now:
                break
            t, kind, subject = event
            if kind == 0:
                subject.end_handled = True
                self.active.discard(subject)
                self._start_waiting(subject.pipeline, t)
                self.retain(t, subject.pipeline.name)
            elif kind == 1:
                subject.delay_until = None
                self.delayed.discard(subject)
                self._start_waiting(subject.pipeline, t)
            else:
                self._arrive(t, subject)
                self.retain(t, subject[1])
        self.retain(now)

    def _next_event(self) -> tuple[float, int, Any] | None:
        events: list[tuple[float, int, Any]] = [(job.run.end, 0, job) for job in self.active]
        events += [(job.delay_until, 1, job) for job in self.delayed]
        if self.history:
            t, name, k = self.history[0]
            events.append((t, 2, ("history", name, k)))
        elif self.arrival_every > 0 and self.pipelines:
            names = list(self.pipelines)
            k = self.next_live
            events.append((self.start + k * self.arrival_every, 2, ("live", names[(k - 1) % len(names)], k)))
        # Ties go to the older job, so the world never depends on set order.
        return min(events, key=lambda e: (e[0], e[1], getattr(e[2], "seq", 0)), default=None)

    def _arrive(self, t: float, arrival: tuple[str, str, int]) -> None:
        origin, name, k = arrival
        if origin == "history":
            self.history.pop(0)
        else:
            self.next_live += 1
        pipeline = self.pipelines.get(name)
        if pipeline is None:  # undefined since
            return
        rng = self.rng("arrival", origin, name, k)
        variables = pipeline.variables(rng)
        partition = str(variables.get(pipeline.partition_variable, "")) if pipeline.partition_variable else ""
        try:
            self.schedule(name, variables, partition, rng.choice(SEEDED_USERS), t, seeded=True)
        except ScheduleError:
            self.refused += 1

    # Scheduling --------------------------------------------------------------------
    def running_count(self, name: str, t: float) -> int:
        # Only jobs whose end is not handled yet can be running.
        return sum(1 for job in self.active if job.pipeline.name == name and job.running(t))

    def refusal(self, pipeline: PipelineDef, t: float) -> str:
        """Why a new job would be refused now ("" when it would be accepted): prunner
        b692da9's ``canAcceptJob``, which asks nothing about running jobs. So
        ``queue_limit: 0`` refuses always, even when the pipeline is idle, and a job
        cancelled while waiting keeps its place on the wait list (prunner never removes
        it), counting against ``queue_limit``."""
        waitlist = self.waitlists[pipeline.name]
        if pipeline.queue_strategy == "partitioned_replace":
            return NO_QUEUE if pipeline.queue_partition_limit == 0 else ""
        if pipeline.queue_limit == 0:
            return NO_QUEUE
        if pipeline.queue_strategy == "append" and pipeline.queue_limit and len(waitlist) >= pipeline.queue_limit:
            return QUEUE_FULL
        return ""

    def schedule(
        self, name: str, variables: dict[str, Any], partition: str, user: str, t: float, *, seeded: bool = False
    ) -> Job:
        pipeline = self.pipelines.get(name)
        if pipeline is None:
            raise ScheduleError(f"pipeline {json.dumps(name)} is not defined")
        refusal = self.refusal(pipeline, t)
        if refusal:
            raise ScheduleError(refusal)
        self.seq += 1
        job_id = self.uuid("job", self.seq)
        plan = plan_job(pipeline, self.rng("plan", job_id), variables, self.cancel_rate if seeded else 0.0)
        job = Job(job_id, self.seq, pipeline, t, variables, user, partition, plan)
        self.jobs[job_id] = job
        self.by_pipeline[name].append(job)
        if pipeline.start_delay > 0:
            job.delay_until = t + pipeline.start_delay
            self.delayed.add(job)
            self._enqueue(pipeline, job, t)
        elif self.running_count(name, t) < pipeline.concurrency:
            self._start(job, t)
        else:
            self._enqueue(pipeline, job, t)
        return job

    def _enqueue(self, pipeline: PipelineDef, job: Job, t: float) -> None:
        waitlist = self.waitlists[pipeline.name]
        if pipeline.queue_strategy == "replace" and pipeline.queue_limit is not None:
            if len(waitlist) >= pipeline.queue_limit:
                self._drop(waitlist.pop(), t)  # the last one is replaced in place
        elif pipeline.queue_strategy == "partitioned_replace":
            same = [w for w in waitlist if w.partition == job.partition]
            if len(same) >= (pipeline.queue_partition_limit or 1):
                waitlist.remove(same[-1])
                self._drop(same[-1], t)
        waitlist.append(job)

    def _drop(self, job: Job, t: float) -> None:
        job.canceled_at = t
        job.delay_until = None
        self.delayed.discard(job)

    def _start(self, job: Job, t: float) -> None:
        job.start = t
        job.replan()
        if job.plan.cancel_after is not None:
            job.cancels.append(t + job.plan.cancel_after * (job.run.end - t))
            job.replan()
        self.active.add(job)

    def _start_waiting(self, pipeline: PipelineDef, t: float) -> None:
        free = pipeline.concurrency - self.running_count(pipeline.name, t)
        if free <= 0:
            return
        kept = []
        for job in self.waitlists[pipeline.name]:
            # A cancelled job cannot start, and prunner keeps it on the wait list.
            if free > 0 and job.canceled_at is None and job.delay_until is None and job.start is None:
                free -= 1
                self._start(job, t)
            else:
                kept.append(job)
        self.waitlists[pipeline.name] = kept

    def cancel(self, job_id: str, t: float) -> None:
        job = self.jobs.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        if job.canceled(t):
            return  # canceling a canceled job is not an error
        if job.completed(t):
            raise AlreadyCompleted(job_id)
        if job.start is None:
            self._drop(job, t)  # it stays on the wait list, as in prunner
            return
        job.cancels.append(t)
        job.replan()

    # Retention ---------------------------------------------------------------------
    def retain(self, t: float, only: str | None = None) -> None:
        """prunner's retention (applied when it saves its store): per pipeline, newest
        first, finished jobs beyond ``retention_count`` or older than
        ``retention_period`` are removed with their logs."""
        for name, pipeline in self.pipelines.items():
            if (only is not None and name != only) or (not pipeline.retention_count and not pipeline.retention_period):
                continue
            # Jobs are created in time order (events are handled in order, requests at
            # "now"), so each list is oldest first and only its head can be due.
            jobs = self.by_pipeline[name]
            due = jobs[: max(len(jobs) - pipeline.retention_count, 0)] if pipeline.retention_count else []
            if pipeline.retention_period:
                expired = next(
                    (i for i, job in enumerate(jobs) if t - job.created <= pipeline.retention_period), len(jobs)
                )
                due = jobs[: max(expired, len(due))]
            for job in due:
                if job.completed(t) or job.canceled(t):
                    self._remove(job)

    def restart(self, t: float, keep_store: bool = True) -> None:
        """prunner stopped and started again at ``t``. With its store it reloads every
        job: the ones that were running are marked canceled (their tasks that waited or
        ran with them, never completing), the waiting ones canceled, and every job loses
        its ``lastError``; its wait lists start empty. Without its store (a new data
        directory) it knows no job at all."""
        self.advance(t)
        for name in self.waitlists:
            self.waitlists[name] = []
        self.delayed.clear()
        if not keep_store:
            for job in list(self.jobs.values()):
                self._remove(job)
            self.active.clear()
            return
        for job in self.jobs.values():
            job.last_error_lost = True
            if job.running(t):
                job.halted_at = t
            elif job.start is None and job.canceled_at is None:
                job.canceled_at, job.delay_until = t, None
        self.active.clear()

    def undefine(self, name: str) -> None:
        """A pipeline removed from pipelines.yml (and reloaded): prunner drops its jobs."""
        self.pipelines.pop(name, None)
        self.waitlists.pop(name, None)
        for job in self.by_pipeline.pop(name, []):
            del self.jobs[job.id]
            self.removed.append(job.id)
            self.active.discard(job)
            self.delayed.discard(job)

    def _remove(self, job: Job) -> None:
        del self.jobs[job.id]
        self.by_pipeline[job.pipeline.name].remove(job)
        self.removed.append(job.id)

    # Reading -----------------------------------------------------------------------
    def newest_first(self) -> list[Job]:
        return sorted(self.jobs.values(), key=lambda j: (j.created, j.seq), reverse=True)
