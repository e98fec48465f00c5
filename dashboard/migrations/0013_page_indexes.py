"""Indexes for every filter and ordering of the lists (docs/performance.md), and on
PostgreSQL a trigram index for the builds search box: ``icontains`` runs as
``UPPER(col::text) LIKE UPPER('%x%')``, which this index answers, and ANALYZE keeps
statistics on its expressions, so the planner knows whether a word is rare (use the
index) or common (walk the newest builds). Without the pg_trgm extension (no right to
create it) the search still works, by walking the recency index."""

import logging

from django.conf import settings
from django.db import DatabaseError, migrations, models, transaction

log = logging.getLogger(__name__)

TRIGRAM_INDEX = "build_text_trgm"


def create_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as exc:
        log.warning("pg_trgm is not available (%s): the builds search walks the recency index instead", exc)
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON dashboard_build USING gin "
        "(UPPER(title::text) gin_trgm_ops, UPPER(branch::text) gin_trgm_ops, commit_sha gin_trgm_ops)"
    )
    # The planner's statistics on the indexed expressions tell a rare word from a common one.
    schema_editor.execute("ANALYZE dashboard_build")


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")


class Migration(migrations.Migration):

    dependencies = [
        ('dashboard', '0012_neutral_infra_states'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(create_trigram_index, drop_trigram_index, elidable=False),
        migrations.AddField(
            model_name='connection',
            name='revision',
            field=models.PositiveBigIntegerField(default=0, editable=False),
        ),
        migrations.AddIndex(
            model_name='actionlog',
            index=models.Index(fields=['-created_at', '-id'], name='actionlog_recent'),
        ),
        migrations.AddIndex(
            model_name='build',
            index=models.Index(fields=['pipeline', '-created_at', '-id'], name='build_pipeline_recent'),
        ),
        migrations.AddIndex(
            model_name='build',
            index=models.Index(fields=['external_id'], name='build_external_id'),
        ),
        migrations.AddIndex(
            model_name='build',
            index=models.Index(fields=['finished_at'], name='build_finished'),
        ),
        migrations.AddIndex(
            model_name='build',
            index=models.Index(condition=models.Q(('gone', True)), fields=['-created_at', '-id'], name='build_gone_recent'),
        ),
        migrations.AddIndex(
            model_name='deployment',
            index=models.Index(fields=['-triggered_at', '-id'], name='deployment_newest'),
        ),
        migrations.AddIndex(
            model_name='job',
            index=models.Index(fields=['state', '-id'], name='job_state_recent'),
        ),
        migrations.AddIndex(
            model_name='job',
            index=models.Index(fields=['name', '-id'], name='job_name_recent'),
        ),
        migrations.AddIndex(
            model_name='job',
            index=models.Index(fields=['started_at'], name='job_started'),
        ),
        migrations.AddIndex(
            model_name='job',
            index=models.Index(condition=models.Q(('allowed_failure', True)), fields=['-id'], name='job_allowed_failure_recent'),
        ),
    ]
