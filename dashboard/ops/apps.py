from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "dashboard.ops"
    label = "ops"
    verbose_name = "Operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dashboard.signals import sync_finished

        from .metrics import record_sync

        sync_finished.connect(record_sync, dispatch_uid="ops.record_sync")
