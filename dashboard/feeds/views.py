"""The CCTray feed, the badges, and the page where people find their URLs and manage their
feed tokens.

The feed and badges are read by things that cannot log in, so they skip the login
redirect and check access themselves: a presented token decides what they show (even
for a logged-in person, so a token URL can be tried in the browser); without one, a
session does. Without either, the feed answers 401 and a badge 404, with nothing in the
body that tells whether what was asked for exists."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control
from django.views.decorators.http import require_POST, require_safe

from dashboard.models import Build, Connection, FeedToken, Pipeline, Project
from dashboard.roles import can_operate

from . import badges, cctray, tokens
from .forms import FeedTokenForm, ScopeForm
from .status import pair_statuses

# Build lights poll every 30-60 s and README proxies cache: keep answers fresh but cheap.
MAX_AGE = 60


def reader(request: HttpRequest) -> tuple[bool, FeedToken | None]:
    """(allowed, token): a presented token must be valid; else a session will do."""
    if tokens.presented(request):
        token = tokens.authenticate(request)
        return token is not None, token
    return request.user.is_authenticated, None


def conditional(request: HttpRequest, response: HttpResponse, *, shared: bool) -> HttpResponse:
    """ETag from the body, 304 for a matching If-None-Match, short caching."""
    response["ETag"] = badges.etag(response.content.decode())
    # Token answers may sit in a README image proxy; session answers only in the browser.
    patch_cache_control(response, max_age=MAX_AGE, must_revalidate=True, **{"public" if shared else "private": True})
    return get_conditional_response(request, etag=response["ETag"], response=response) or response


@login_not_required
@require_safe
def cctray_feed(request: HttpRequest) -> HttpResponse:
    allowed, token = reader(request)
    if not allowed:
        response = HttpResponse("Authentication required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="CI dashboard feed", Basic realm="CI dashboard feed"'
        return response
    builds = Build.objects.filter(cctray.feed_filter(request.GET))
    if token is not None:
        builds = builds.filter(token.build_filter())
    body = cctray.render(builds, lambda build: request.build_absolute_uri(build.get_absolute_url()))
    response = HttpResponse(body, content_type="application/xml; charset=utf-8")
    return conditional(request, response, shared=token is not None)


def _badge(request: HttpRequest, find: Callable[[], Connection | Project | Pipeline | None]) -> HttpResponse:
    allowed, token = reader(request)
    target = find() if allowed else None
    branch = request.GET.get("branch", "").strip() or (token.branch if token else "")
    if target is None or (token is not None and not tokens.allows(token, target, branch)):
        return HttpResponseNotFound("Not found.\n", content_type="text/plain")
    if isinstance(target, Connection):
        builds = Build.objects.filter(connection=target)
    elif isinstance(target, Project):
        builds = Build.objects.filter(Q(project=target) | Q(pipeline__project=target))
    else:
        builds = Build.objects.filter(pipeline=target)
    if branch:
        builds = builds.filter(branch=branch)
    label = request.GET.get("label") or (f"{target.name} {branch}" if branch else target.name)
    svg = badges.summarise(label, pair_statuses(builds)).svg()
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    return conditional(request, response, shared=token is not None)


@login_not_required
@require_safe
def connection_badge(request: HttpRequest, kind: str, slug: str) -> HttpResponse:
    return _badge(request, lambda: Connection.objects.filter(kind=kind, slug=slug).first())


@login_not_required
@require_safe
def project_badge(request: HttpRequest, kind: str, slug: str, external_id: str) -> HttpResponse:
    return _badge(
        request,
        lambda: (
            Project.objects.select_related("connection")
            .filter(connection__kind=kind, connection__slug=slug, external_id=external_id)
            .first()
        ),
    )


@login_not_required
@require_safe
def pipeline_badge(request: HttpRequest, kind: str, slug: str, external_id: str) -> HttpResponse:
    return _badge(
        request,
        lambda: (
            Pipeline.objects.select_related("connection", "project")
            .filter(connection__kind=kind, connection__slug=slug, external_id=external_id)
            .first()
        ),
    )


# The page ------------------------------------------------------------------------------------
def may_create(user) -> bool:
    return bool(user.is_staff or can_operate(user))


def badge_path(target: Connection | Project | Pipeline) -> str:
    if isinstance(target, Connection):
        return reverse("badge-connection", args=[target.kind, target.slug])
    name = "badge-project" if isinstance(target, Project) else "badge-pipeline"
    return reverse(name, args=[target.connection.kind, target.connection.slug, target.external_id])


def visible_tokens(user):
    rows = FeedToken.objects.select_related("connection", "project", "pipeline", "created_by")
    return rows if user.is_staff else rows.filter(created_by=user)


def feeds_page(request: HttpRequest) -> HttpResponse:
    scope = ScopeForm(request.GET or None)
    badge = None
    if scope.is_bound and scope.is_valid():
        data = scope.cleaned_data
        target = data["pipeline"] or data["project"] or data["connection"]
        if target is not None:
            query = "?" + urlencode({"branch": data["branch"]}) if data["branch"] else ""
            badge = {
                "target": target,
                "url": request.build_absolute_uri(badge_path(target)) + query,
                "link": request.build_absolute_uri(target.get_absolute_url()),
            }
    context = {
        "feed_url": request.build_absolute_uri(reverse("cctray")),
        "scope": scope,
        "badge": badge,
        "tokens": visible_tokens(request.user),
        "form": FeedTokenForm() if may_create(request.user) else None,
    }
    return render(request, "dashboard/feeds/index.html", context)


@require_POST
def create_token(request: HttpRequest) -> HttpResponse:
    if not may_create(request.user):
        raise PermissionDenied("Only operators and admins create feed tokens.")
    form = FeedTokenForm(request.POST)
    if not form.is_valid():
        context = {
            "feed_url": request.build_absolute_uri(reverse("cctray")),
            "scope": ScopeForm(),
            "tokens": visible_tokens(request.user),
            "form": form,
        }
        return render(request, "dashboard/feeds/index.html", context, status=400)
    token = form.save(commit=False)
    token.created_by = request.user
    secret = tokens.issue(token)
    response = render(request, "dashboard/feeds/token_created.html", created_context(request, token, secret))
    response["Cache-Control"] = "no-store"  # the secret is on this page and nowhere else
    return response


def created_context(request: HttpRequest, token: FeedToken, secret: str) -> dict:
    target = token.pipeline or token.project or token.connection
    query = "?" + urlencode({"token": secret, **({"branch": token.branch} if token.branch else {})})
    return {
        "token": token,
        "secret": secret,
        "feed_url": request.build_absolute_uri(reverse("cctray")) + f"?token={secret}",
        "badge_url": request.build_absolute_uri(badge_path(target)) + query if target else "",
    }


@require_POST
def revoke_token(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(visible_tokens(request.user), pk=pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        messages.success(request, f"Revoked {token}. Feeds and badges using it stop working now.")
    return redirect("feeds")
