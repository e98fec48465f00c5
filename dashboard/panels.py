"""Provider panels on our pages: ``templates/providers/<kind>/<name>.html`` fed by the
panel's declared context function (see ``providers.base.panels``). Panels that ask the
provider (``live``) load after the page through HTMX, so a slow or unreachable
provider never holds up a page; their provider calls are brief (the adapter is made
``interactive``)."""

from __future__ import annotations

from django.db import models
from django.http import HttpRequest
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from dashboard.actions import connection_of, target_id, target_name
from providers.base.errors import ProviderError
from providers.base.panels import Panel, provider_error_for
from providers.registry import adapter_class


def panel_of(obj: models.Model, name: str) -> Panel | None:
    return adapter_class(connection_of(obj).kind).panels.get(name)


def panel_context(request: HttpRequest | None, obj: models.Model, name: str) -> dict:
    """The panel's own context: what the provider package says about ``obj``. A failure
    to ask the provider is shown in the panel, in words."""
    connection = connection_of(obj)
    adapter = adapter_class(connection.kind)(connection, interactive=True)
    try:
        return adapter.panel_context(obj, request, name) or {}
    except ProviderError as exc:
        return {"panel_error": f"{connection.kind_label} could not be asked: {provider_error_for(request, exc)}"}
    finally:
        adapter.close()


def render_panel(request: HttpRequest | None, obj: models.Model, name: str, context: dict | None = None) -> str:
    connection = connection_of(obj)
    try:
        template = get_template(f"providers/{connection.kind}/{name}.html")
    except TemplateDoesNotExist:
        return ""
    extra = panel_context(request, obj, name)
    names = {"obj": obj, "connection": connection, target_name(obj) or "obj": obj}
    return template.render({**(context or {}), **names, **extra}, request)


def panel_slot(request: HttpRequest | None, obj: models.Model, name: str, context: dict | None = None) -> str:
    """The panel itself, or for a live one a placeholder that loads it."""
    panel = panel_of(obj, name)
    if panel is None:
        return ""
    if not panel.live:
        return render_panel(request, obj, name, context)
    connection = connection_of(obj)
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


def panels_for(request: HttpRequest | None, obj: models.Model, context: dict | None = None) -> SafeString:
    """Every panel the provider declares for ``obj``'s page, in declaration order."""
    page = target_name(obj)
    panels = adapter_class(connection_of(obj).kind).panels.for_page(page) if page else []
    slots = [panel_slot(request, obj, panel.name, context) for panel in panels]
    # Each slot is HTML we rendered from templates (escaped there).
    return format_html_join("", "{}", ((mark_safe(slot),) for slot in slots if slot))
