"""Django admin for the insights settings of a connection. Saving recomputes the
figures that depend on them (time red, deployments) for that connection."""

from __future__ import annotations

from django.contrib import admin, messages

from dashboard.models import InsightsSettings


@admin.register(InsightsSettings)
class InsightsSettingsAdmin(admin.ModelAdmin):
    list_display = ("connection", "default_branch", "deploy_pipelines", "deploy_jobs")
    list_select_related = ("connection",)

    def save_model(self, request, obj, form, change) -> None:
        from . import dora, red

        super().save_model(request, obj, form, change)
        red.rebuild(obj.connection_id)
        dora.rebuild(obj.connection_id)
        messages.info(request, f"Time red and deployment figures of {obj.connection} were recomputed.")
