from django.db import migrations


def mask_stored(apps, schema_editor):
    """Audit rows written before secrets were masked by shape: mask them now, so no
    secret stays in the database (only names are kept)."""
    from dashboard.secrets import mask_params, redact

    ActionLog = apps.get_model("dashboard", "ActionLog")
    for entry in ActionLog.objects.only("pk", "params", "answer").iterator():
        masked = mask_params(entry.params if isinstance(entry.params, dict) else {})
        answer = redact(entry.answer, masked.values)
        if masked.params != entry.params or answer != entry.answer:
            ActionLog.objects.filter(pk=entry.pk).update(params=masked.params, answer=answer)


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0009_access_tokens_share_links"),
    ]

    operations = [
        migrations.RunPython(mask_stored, migrations.RunPython.noop),
    ]
