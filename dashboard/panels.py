"""Provider panels: ``templates/providers/<kind>/<name>.html`` fed by the adapter's
``panel_context``. Panels that ask the provider (``Adapter.live_panels``) load after the
page through HTMX, so a slow or unreachable provider never holds up a page."""

from __future__ import annotations

from django.db import models
from django.http import HttpRequest
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse
from django.utils.html import format_html

from dashboard.actions import connection_of, target_id, target_name
from providers.base.errors import ProviderError
from providers.registry import adapter_class


def render_panel(request: HttpRequest | None, obj: models.Model, name: str, context: dict | None = None) -> str:
    connection = connection_of(obj)
    try:
        template = get_template(f"providers/{connection.kind}/{name}.html")
    except TemplateDoesNotExist:
        return ""
    adapter = adapter_class(connection.kind)(connection, interactive=True)
    try:
        extra = adapter.panel_context(obj, request, name) or {}
    except ProviderError as exc:
        extra = {"panel_error": f"{connection.kind_label} could not be asked: {exc}"}
    finally:
        adapter.close()
    names = {"obj": obj, "connection": connection, target_name(obj) or "obj": obj}
    return template.render({**(context or {}), **names, **extra}, request)


def panel_slot(request: HttpRequest | None, obj: models.Model, name: str, context: dict | None = None) -> str:
    """The panel itself, or for a live one a placeholder that loads it."""
    connection = connection_of(obj)
    adapter = adapter_class(connection.kind)
    if name not in adapter.live_panels:
        return render_panel(request, obj, name, context)
    try:
        get_template(f"providers/{connection.kind}/{name}.html")
    except TemplateDoesNotExist:
        return ""
    url = reverse("panel", args=[connection.kind, connection.slug, name, target_name(obj), target_id(obj)])
    if request is not None and request.GET:
        url += "?" + request.GET.urlencode()
    return format_html(
        '<div class="panel-slot" hx-get="{}" hx-trigger="load" hx-swap="outerHTML"><p class="sub">Asking {}…</p></div>',
        url,
        connection.kind_label,
    )
