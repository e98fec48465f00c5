import html
from datetime import timedelta

from django import template
from django.urls import reverse
from django.utils.safestring import SafeData, SafeString

register = template.Library()


def _html(template: str, *values: object) -> SafeString:
    """``format_html`` without its lazy-string machinery, for what lists draw several
    times per row: each value escaped exactly as Django escapes it, unless already safe."""
    return SafeString(template.format(*(v if isinstance(v, SafeData) else html.escape(str(v)) for v in values)))


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


@register.simple_tag
def state_badge(obj) -> str:
    """The state as a coloured badge; the provider's own word on hover. A simple tag, not
    an included template: lists draw one per row."""
    state = getattr(obj, "state", "unknown")
    raw = getattr(obj, "raw_state", "")
    label = f"unknown ({raw})" if state == "unknown" else state
    if getattr(obj, "allowed_failure", False):
        label, state = "failed (allowed)", "soft-failed"
    return _html(
        '<span class="state state-{}" title="provider state: {}">{} {}</span>',
        state,
        raw or "—",
        ICONS.get(obj.state, "?"),
        label,
    )


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
    return build.get_absolute_url()


@register.simple_tag
def job_url(job, name: str = "job") -> str:
    """The job's page, or another of its views (``job-log-tail``, ``job-log-raw``)."""
    if name == "job":
        return job.get_absolute_url()
    return reverse(name, args=[job.connection.kind, job.connection.slug, job.external_id])


@register.inclusion_tag("dashboard/partials/actions.html", takes_context=True)
def action_bar(context, obj) -> dict:
    """The buttons of ``obj``'s provider that apply to it, for operators only."""
    from dashboard.actions import build_form, connection_of, target_id, target_name
    from dashboard.roles import can_operate
    from providers.registry import adapter_class

    request = context.get("request")
    if request is None or not can_operate(request.user):
        return {"buttons": []}
    connection, target = connection_of(obj), target_name(obj)
    buttons = []
    for action in adapter_class(connection.kind).actions_for(target):
        if not action.offered_for(obj):
            continue
        url = reverse("action", args=[connection.kind, connection.slug, action.name, target, target_id(obj)])
        reason = action.unavailable(obj) if action.unavailable else ""
        form = build_form(action, obj=obj)
        # A form with nothing to fill in (only hidden fields, such as an idempotency
        # token made now) is a plain button.
        direct = not action.destructive and all(f.is_hidden for f in form)
        buttons.append(
            {
                "action": action,
                "url": url,
                "reason": reason,
                "direct": direct,
                "hidden": form.hidden_fields() if direct else [],
            }
        )
    return {"buttons": buttons, "csrf_token": context.get("csrf_token")}


@register.simple_tag(takes_context=True)
def provider_panels(context, obj) -> str:
    """Every panel ``obj``'s provider declares for this page."""
    from dashboard.panels import panels_for

    return panels_for(context.get("request"), obj, context.flatten())


def _iso(value) -> str:
    return value.isoformat() if value else ""


@register.simple_tag
def when(value, default: str = "", future: bool = False) -> str:
    """A moment as relative words ("3 minutes ago") that static/app.js keeps current,
    with the absolute time in the viewer's time zone on hover. Unless ``future``, it is
    a moment that has happened: a provider's clock a little ahead reads "now", not "in
    10 seconds"."""
    from django.contrib.humanize.templatetags.humanize import naturaltime

    if not value:
        return default
    return _html(
        '<time datetime="{}" data-relative="{}" title="{} UTC">{}</time>',
        _iso(value),
        "any" if future else "past",
        value.strftime("%Y-%m-%d %H:%M:%S"),
        naturaltime(value),
    )


@register.simple_tag
def at(value, default: str = "") -> str:
    """A moment as an absolute time; static/app.js shows it in the viewer's zone, named."""
    if not value:
        return default
    return _html('<time datetime="{}" data-absolute>{} UTC</time>', _iso(value), value.strftime("%Y-%m-%d %H:%M"))


@register.simple_tag
def elapsed(obj) -> str:
    """How long a build or job took, or, while it runs, how long it has run so far
    (kept ticking by static/app.js)."""
    from django.utils import timezone

    from dashboard.states import ACTIVE

    started, finished = getattr(obj, "started_at", None), getattr(obj, "finished_at", None)
    if not started:
        return ""
    if finished:
        return duration(finished - started)
    if obj.state not in ACTIVE:
        return ""
    return _html(
        '<time datetime="{}" data-elapsed class="elapsed">{}</time>',
        _iso(started),
        duration(timezone.now() - started),
    )


@register.filter
def tile_state(build) -> str:
    """The colour family of a build for tiles and the favicon."""
    from dashboard.overview import colour

    return colour(build)


TITLE_CHARS = 90


@register.simple_tag
def build_row(build, wide: bool = True) -> str:
    """One row of a builds table. Drawn here rather than in the template: lists draw fifty
    rows per page and redraw them on every change, and the template language spent about
    180 µs per row resolving the same dozen values (this takes under a fifth of that).
    ``wide`` adds the pipeline, commit, project and provider that the builds list shows."""
    from django.utils.text import Truncator

    title = build.title or build.external_id
    if len(title) > TITLE_CHARS:  # Truncator only ever shortens: skip it for short titles
        title = Truncator(title).chars(TITLE_CHARS)
    started = when(build.started_at) if build.started_at else None
    if not wide:
        return _html(
            '<tr class="build-row" data-external-id="{}"><td>{}</td>'
            '<td><a href="{}">{}</a> <span class="sub">{}</span></td><td>{}</td><td>{}</td><td>{}</td></tr>',
            build.external_id,
            state_badge(build),
            build.get_absolute_url(),
            title,
            build.number,
            build.branch,
            started or _html('<span class="sub">not started</span>'),
            elapsed(build),
        )
    sha = _html(" <code>{}</code>", build.commit_sha[:7]) if build.commit_sha else ""
    gone = _html(' <span class="gone">no longer on the provider</span>') if build.gone else ""
    connection, pipeline, project = build.connection, build.pipeline, build.project
    return _html(
        '<tr class="build-row state-row-{}" data-external-id="{}"><td>{}</td>'
        '<td><a href="{}">{}</a><div class="sub">{} {}{}{}</div></td><td>{}</td><td class="wide-only">{}</td>'
        '<td class="wide-only"><span class="kind">{}</span> <span class="sub">{}</span></td><td>{}</td><td>{}</td>'
        "</tr>",
        build.state,
        build.external_id,
        state_badge(build),
        build.get_absolute_url(),
        title,
        pipeline.name if pipeline else "",
        build.number,
        sha,
        gone,
        build.branch,
        project.name if project else "",
        connection.kind_label,
        connection.name,
        started or _html('<span class="sub">not started · created {}</span>', when(build.created_at)),
        elapsed(build),
    )
