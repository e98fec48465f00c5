from django.apps import AppConfig


class TelemetryConfig(AppConfig):
    name = "dashboard.telemetry"
    label = "telemetry"
    verbose_name = "Traces"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dashboard.signals import batch_applied

        from .tasks import on_batch_applied

        batch_applied.connect(on_batch_applied, dispatch_uid="telemetry.on_batch_applied")
