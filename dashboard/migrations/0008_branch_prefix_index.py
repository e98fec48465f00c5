"""The builds list filters branches by prefix, case-insensitively (``istartswith``),
which PostgreSQL runs as ``UPPER(branch::text) LIKE UPPER('x%')``. This expression index
answers that for rare prefixes; common ones still walk the recency index. Other
databases need nothing (SQLite scans the recency index)."""

from django.db import migrations

INDEX = "build_branch_prefix"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON dashboard_build "
            "(UPPER(branch::text) text_pattern_ops, created_at DESC, id DESC)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0007_feeds_and_notifications")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
