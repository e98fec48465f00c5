"""Re-encrypt every encrypted field with the first key of FIELD_ENCRYPTION_KEY, so the
older keys can then be dropped. Values no key can read are named and left as they are;
the command then exits with an error, so a deploy script stops before dropping a key."""

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from dashboard.fields import EncryptedTextField, is_unreadable


class Command(BaseCommand):
    help = "Re-encrypt every token with the first FIELD_ENCRYPTION_KEY key and report how many."

    def handle(self, *args, **options):
        rotated, unreadable = 0, []
        for model in apps.get_models():
            fields = [f for f in model._meta.get_fields() if isinstance(f, EncryptedTextField)]
            for field in fields:
                with transaction.atomic():
                    for obj in model.objects.select_for_update().exclude(**{field.name: ""}).only("pk", field.name):
                        value = getattr(obj, field.name)
                        if is_unreadable(value):
                            unreadable.append(f"{model._meta.verbose_name} {obj} ({field.name})")
                            continue
                        # Saving encrypts with the first key.
                        model.objects.filter(pk=obj.pk).update(**{field.name: value})
                        rotated += 1
        self.stdout.write(f"Re-encrypted {rotated} value(s) with the first key of FIELD_ENCRYPTION_KEY.")
        if unreadable:
            raise CommandError(
                f"{len(unreadable)} value(s) cannot be decrypted with any configured key and were left as they are: "
                + "; ".join(unreadable)
                + ". Re-enter those tokens in admin (or add the old key back) before dropping a key."
            )
        self.stdout.write(self.style.SUCCESS("Every key but the first may now be removed."))
