"""A sync run's start is the moment the sync began, set by the sync itself: runs are
saved only when the sync ends, which ``auto_now_add`` stamped instead. No schema change."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0014_sync_totals_on_connection"),
    ]

    operations = [
        migrations.AlterField(
            model_name="syncrun",
            name="started_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
    ]
