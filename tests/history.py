"""A large build history written straight into PostgreSQL (``INSERT ... SELECT
generate_series``), so query plans can be checked at a size where the planner's choices
matter: tens of thousands of builds in a second or two, which the ORM could not do."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection as db
from django.utils import timezone

from dashboard.models import Connection, Pipeline, Project

# Shares of states, newest builds included: mostly passed, some failed, a few of the rest.
STATES = ["passed"] * 78 + ["failed"] * 12 + ["canceled"] * 5 + ["running"] * 2 + ["queued", "blocked", "skipped"]


@dataclass
class History:
    connections: list[Connection]
    projects: list[Project]
    pipelines: list[Pipeline]
    quiet_project: Project  # has builds, none of them recent
    quiet_pipeline: Pipeline
    builds: int


def fill(builds: int = 60_000, jobs_per_build: int = 5, connections: int = 4, projects: int = 12) -> History:
    """``builds`` builds, one a minute up to now (ids growing with time, as synced rows'
    do), spread over connections, projects and
    pipelines, with realistic branches, titles and states; then ANALYZE."""
    assert db.vendor == "postgresql", "this history is written with PostgreSQL SQL"
    conns = [
        Connection.objects.create(
            kind=("semaphore", "harmont", "prunner", "jobsplatform")[i % 4],
            name=f"History {i}",
            slug=f"history-{i}",
            base_url="http://127.0.0.1:9",
            token="t",
        )
        for i in range(connections)
    ]
    projs = [
        Project.objects.create(connection=conns[i % connections], external_id=f"p{i}", name=f"project-{i}")
        for i in range(projects)
    ]
    quiet = Project.objects.create(connection=conns[0], external_id="p-quiet", name="quiet-project")
    quiet_pipeline = Pipeline.objects.create(
        connection=conns[0], project=quiet, external_id="quiet-ci", name="quiet-ci"
    )
    pipes = [
        Pipeline.objects.create(
            connection=p.connection, project=p, external_id=f"{p.external_id}-{k}", name=f"{p.name}-ci-{k}"
        )
        for p in projs
        for k in range(3)
    ]
    now = timezone.now()
    with db.cursor() as cur:
        # The quiet project: builds a year old and more, none recent.
        cur.execute(
            """
            INSERT INTO dashboard_build (
                external_id, raw, fingerprint, synced_at, number, title, group_id, branch, commit_sha,
                commit_message, triggered_by, state, raw_state, created_at, web_url, gone,
                connection_id, project_id, pipeline_id, missing_count, recheck_attempts)
            SELECT 'q' || g, '{}'::jsonb, '', %(now)s, '#' || g, 'Old build ' || g, '', 'main', md5('q' || g),
                   '', '', 'passed', '', %(now)s - interval '400 days' - (g || ' minutes')::interval, '', false,
                   %(conn)s, %(proj)s, %(pipe)s, 0, 0
            FROM generate_series(1, 200) AS g
            """,
            {"now": now, "conn": quiet.connection_id, "proj": quiet.pk, "pipe": quiet_pipeline.pk},
        )
        cur.execute(
            """
            INSERT INTO dashboard_build (
                external_id, raw, fingerprint, synced_at, number, title, group_id, branch, commit_sha,
                commit_message, triggered_by, state, raw_state, created_at, started_at, finished_at,
                web_url, gone, connection_id, pipeline_id, project_id, missing_count, recheck_attempts)
            SELECT
                'b' || g, '{}'::jsonb, '', %(now)s, '#' || g,
                (ARRAY['Merge pull request #', 'Fix flaky checkout in ', 'Bump dependency for ',
                       'Refactor the pricing module ', 'Add retries to upload '])[1 + g %% 5] || g,
                'w' || g,
                CASE WHEN g %% 10 < 4 THEN 'main'
                     WHEN g %% 10 < 6 THEN 'feature/topic-' || (g %% 997)
                     WHEN g %% 10 < 7 THEN 'release/' || (g %% 53)
                     WHEN g %% 10 < 8 THEN 'dependabot/npm/pkg-' || (g %% 211)
                     ELSE 'fix/bug-' || (g %% 1999) END,
                md5(g::text), '', 'dev' || (g %% 40),
                (%(states)s::text[])[1 + (g * 7919) %% %(nstates)s], '',
                %(now)s - ((%(builds)s - g) || ' minutes')::interval,
                %(now)s - ((%(builds)s - g) || ' minutes')::interval + interval '10 seconds',
                %(now)s - ((%(builds)s - g) || ' minutes')::interval + interval '5 minutes',
                '', g %% 5003 = 0,
                (%(conns)s::bigint[])[1 + g %% %(nconns)s],
                (%(pipes)s::bigint[])[1 + g %% %(npipes)s],
                (%(projs)s::bigint[])[1 + g %% %(nprojs)s],
                0, 0
            FROM generate_series(1, %(builds)s) AS g
            """,
            {
                "now": now,
                "builds": builds,
                "states": STATES,
                "nstates": len(STATES),
                # Builds follow their pipeline's project and connection.
                "pipes": [p.pk for p in pipes],
                "npipes": len(pipes),
                "projs": [p.project_id for p in pipes],
                "nprojs": len(pipes),
                "conns": [p.connection_id for p in pipes],
                "nconns": len(pipes),
            },
        )
        cur.execute(
            """
            INSERT INTO dashboard_job (
                external_id, raw, fingerprint, synced_at, name, "group", position, state, raw_state,
                created_at, started_at, finished_at, depends_on, build_id, connection_id, allowed_failure,
                gone, missing_count)
            SELECT b.external_id || '-j' || k, '{}'::jsonb, '', b.synced_at,
                   (ARRAY['lint', 'unit tests', 'integration', 'build image', 'deploy'])[1 + (k - 1) %% 5] || ' ' || k,
                   'stage ' || (k %% 3), k, b.state, '', b.created_at, b.started_at, b.finished_at, '[]'::jsonb,
                   b.id, b.connection_id, b.id %% 997 = 0 AND k = 1, false, 0
            FROM dashboard_build b, generate_series(1, %(jobs)s) AS k
            ORDER BY b.id, k
            """,
            {"jobs": jobs_per_build},
        )
        # What autovacuum does in time: rows waiting in a GIN index's pending list make
        # the planner price that index high.
        cur.execute(
            "SELECT gin_clean_pending_list(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_am a ON a.oid = c.relam WHERE i.indrelid = 'dashboard_build'::regclass AND a.amname = 'gin'"
        )
        cur.execute("ANALYZE dashboard_build")
        cur.execute("ANALYZE dashboard_job")
        cur.execute("ANALYZE dashboard_project")
        cur.execute("ANALYZE dashboard_pipeline")
        cur.execute("ANALYZE dashboard_connection")
    return History(conns, projs, pipes, quiet, quiet_pipeline, builds + 200)
