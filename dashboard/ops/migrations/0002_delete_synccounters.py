from django.db import migrations


class Migration(migrations.Migration):
    # The totals now live on the connection (copied there by dashboard 0014).
    dependencies = [
        ("ops", "0001_initial"),
        ("dashboard", "0014_sync_totals_on_connection"),
    ]

    operations = [
        migrations.DeleteModel(name="SyncCounters"),
    ]
