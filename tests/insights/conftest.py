"""A small history built by hand through the ORM, whose figures are worked out by hand
in the tests. Days are relative to the day the test runs (never to import time)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.utils import timezone

from dashboard.models import Build, Connection, Job, Pipeline, Project
from dashboard.signals import batch_applied

# Playwright's sync API runs an event loop in the browser tests' thread; the ORM calls
# beside it are still plain synchronous calls (as in tests/browser).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def at(day: date, clock: str) -> datetime:
    hours, minutes, *seconds = (int(p) for p in clock.split(":"))
    return datetime.combine(day, time(hours, minutes, seconds[0] if seconds else 0), tzinfo=UTC)


@dataclass
class History:
    connection: Connection
    project: Project
    ci: Pipeline
    deploy: Pipeline
    d1: date
    d2: date
    builds: dict[str, Build] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)

    def build(
        self,
        name,
        *,
        pipeline=None,
        branch="main",
        state="passed",
        created,
        started=None,
        finished=None,
        sha="",
        group="",
        jobs=(),
    ) -> Build:
        build = Build.objects.create(
            connection=self.connection,
            project=self.project,
            pipeline=pipeline or self.ci,
            external_id=name,
            title=f"Build {name}",
            number=name,
            group_id=group or f"wf-{name}",
            branch=branch,
            commit_sha=sha,
            state=state,
            created_at=created,
            started_at=started,
            finished_at=finished,
        )
        self.builds[name] = build
        for position, (job_name, job_state, job_created, job_started, seconds, *machine) in enumerate(jobs):
            job = Job.objects.create(
                connection=self.connection,
                build=build,
                external_id=f"{name}-{job_name}-{position}",
                name=job_name,
                position=position,
                state=job_state,
                created_at=job_created,
                started_at=job_started,
                finished_at=job_started + timedelta(seconds=seconds) if job_started and seconds is not None else None,
                raw={"job": {"spec": {"agent": {"machine": {"type": machine[0]}}}}} if machine else {},
            )
            self.jobs[f"{name}.{job_name}" + (f".{position}" if f"{name}.{job_name}" in self.jobs else "")] = job
        return build

    def apply(self, *names: str) -> None:
        """What the sync does after a batch: announce the builds it changed."""
        ids = [self.builds[n].pk for n in (names or self.builds)]
        batch_applied.send(sender=None, connection=self.connection, changed_build_ids=ids, finished_build_ids=ids)


def make_history() -> History:
    today = timezone.now().date()
    connection = Connection.objects.create(kind="semaphore", name="Acme", slug="acme", base_url="http://127.0.0.1:9")
    project = Project.objects.create(connection=connection, external_id="p-api", name="api")
    ci = Pipeline.objects.create(connection=connection, project=project, external_id="p-api:ci.yml", name="ci")
    deploy = Pipeline.objects.create(
        connection=connection, project=project, external_id="p-api:deploy.yml", name="deploy-prod"
    )
    h = History(connection, project, ci, deploy, today - timedelta(days=2), today - timedelta(days=1))
    d1, d2 = h.d1, h.d2
    # Day 1: a pass, a failure rerun green for the same commit (a flake of "test"), a canceled branch build.
    h.build(
        "b1",
        created=at(d1, "10:00"),
        started=at(d1, "10:01"),
        finished=at(d1, "10:11"),
        sha="c1",
        jobs=[
            ("test", "passed", at(d1, "10:01"), at(d1, "10:02"), 300, "e1-standard-2"),
            ("lint", "passed", at(d1, "10:01"), at(d1, "10:01"), 60, "e1-standard-2"),
        ],
    )
    h.build(
        "b2",
        state="failed",
        created=at(d1, "11:00"),
        started=at(d1, "11:00:30"),
        finished=at(d1, "11:10:30"),
        sha="c2",
        jobs=[
            ("test", "failed", at(d1, "11:00:30"), at(d1, "11:00:30"), 600, "s1-linux"),
            ("lint", "passed", at(d1, "11:00:30"), at(d1, "11:00:30"), 60, "e1-standard-2"),
        ],
    )
    h.build(
        "b3",
        created=at(d1, "12:00"),
        started=at(d1, "12:02"),
        finished=at(d1, "12:12"),
        sha="c2",
        jobs=[
            ("test", "passed", at(d1, "12:02"), at(d1, "12:08"), 450, "s1-linux"),
            ("lint", "passed", at(d1, "12:02"), at(d1, "12:02"), 60, "e1-standard-2"),
        ],
    )
    h.build("b4", branch="feature/x", state="canceled", created=at(d1, "13:00"), sha="c3")
    # Day 2: main goes red twice in a row, then green.
    h.build(
        "b5",
        state="failed",
        created=at(d2, "09:00"),
        started=at(d2, "09:00"),
        finished=at(d2, "09:30"),
        sha="c4",
        jobs=[
            ("test", "failed", at(d2, "09:00"), at(d2, "09:00"), 1500),
            ("lint", "passed", at(d2, "09:00"), at(d2, "09:00"), 60),
        ],
    )
    h.build(
        "b6",
        state="failed",
        created=at(d2, "10:00"),
        started=at(d2, "10:00"),
        finished=at(d2, "10:20"),
        sha="c5",
        jobs=[
            ("test", "failed", at(d2, "10:00"), at(d2, "10:00"), 1000),
            ("lint", "failed", at(d2, "10:00"), at(d2, "10:00"), 30),
        ],
    )
    h.build(
        "b7",
        created=at(d2, "11:00"),
        started=at(d2, "11:05"),
        finished=at(d2, "11:15"),
        sha="c6",
        jobs=[
            ("test", "passed", at(d2, "11:05"), at(d2, "11:05"), 500),
            ("lint", "passed", at(d2, "11:05"), at(d2, "11:05"), 60),
        ],
    )
    # Deployments by the "deploy-prod" pipeline (counted once a pattern names it).
    h.build("d1", pipeline=deploy, created=at(d1, "10:30"), started=at(d1, "10:30"), finished=at(d1, "10:40"), sha="c1")
    h.build(
        "d2",
        pipeline=deploy,
        state="failed",
        created=at(d2, "09:40"),
        started=at(d2, "09:40"),
        finished=at(d2, "09:50"),
        sha="c4",
    )
    h.build("d3", pipeline=deploy, created=at(d2, "11:20"), started=at(d2, "11:20"), finished=at(d2, "11:30"), sha="c6")
    return h


@pytest.fixture
def history(db) -> History:
    return make_history()
