"""Link previews for chat. A pasted link is fetched by the chat's unfurler, which has no
login, so it would only see the login page. With ``PUBLIC_LINK_PREVIEWS`` on, anonymous
visitors to a build or job permalink get a bare page with its title and OpenGraph tags
(state, name, provider, branch) and a link to log in; nothing else of it. Off by default:
it tells whoever holds a link what the build is."""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard.models import Build, Job
from dashboard.templatetags.dashboard_tags import ICONS, duration
from dashboard.views.common import build_or_404, job_or_404


def describe_build(build: Build) -> dict:
    facts = [
        build.connection.kind_label,
        build.project.name if build.project else "",
        build.branch,
        build.commit_sha[:7],
        duration(build.duration),
    ]
    return {
        "title": f"{ICONS.get(build.state, '?')} {build.state}: {build.title or build.external_id}",
        "description": " · ".join(f for f in facts if f),
    }


def describe_job(job: Job) -> dict:
    return {
        "title": f"{ICONS.get(job.state, '?')} {job.name} {job.state}",
        "description": " · ".join(f for f in (job.connection.kind_label, job.build.title, job.build.branch) if f),
    }


def _with_preview(find: Callable, describe: Callable) -> Callable:
    def decorator(view: Callable) -> Callable:
        @login_not_required
        @wraps(view)
        def wrapped(request: HttpRequest, kind: str, slug: str, external_id: str) -> HttpResponse:
            if request.user.is_authenticated:
                return view(request, kind, slug, external_id)
            if not settings.PUBLIC_LINK_PREVIEWS:
                return redirect_to_login(request.get_full_path())
            context = describe(find(kind, slug, external_id))
            response = render(request, "dashboard/preview.html", context)
            response["X-Robots-Tag"] = "noindex, nofollow"
            return response

        return wrapped

    return decorator


build_preview = _with_preview(build_or_404, describe_build)
job_preview = _with_preview(job_or_404, describe_job)
