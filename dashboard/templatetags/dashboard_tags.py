from datetime import timedelta

from django import template
from django.urls import reverse

register = template.Library()

ICONS = {
    "passed": "✓",
    "failed": "✗",
    "running": "●",
    "queued": "○",
    "blocked": "⏸",
    "canceled": "⊘",
    "skipped": "↷",
    "unknown": "?",
}


@register.inclusion_tag("dashboard/partials/state.html")
def state_badge(obj) -> dict:
    state = getattr(obj, "state", "unknown")
    raw = getattr(obj, "raw_state", "")
    label = f"unknown ({raw})" if state == "unknown" else state
    return {"state": state, "label": label, "icon": ICONS.get(state, "?"), "raw": raw}


@register.filter
def state_icon(state: str) -> str:
    return ICONS.get(state, "?")


@register.filter
def duration(value: timedelta | None) -> str:
    if value is None:
        return ""
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


@register.simple_tag
def build_url(build) -> str:
    return reverse("build", args=[build.connection.kind, build.connection.slug, build.external_id])


@register.simple_tag
def job_url(job, name: str = "job") -> str:
    return reverse(name, args=[job.connection.kind, job.connection.slug, job.external_id])
