"""Link previews through share links. A build or job page needs a login, and the link to
it names the provider's ids, which can be guessed; so a pasted page link shows an
unfurler (which has no login) only the login page, with the site's neutral title,
whether or not the build exists.

To show a build or job to people or chat unfurlers without a login, an operator makes a
*share link* for it: an opaque random URL (only its SHA-256 digest is stored) with an
expiry, revocable at any time. It shows OpenGraph tags and a minimal read-only page; a
wrong, expired or revoked one answers the same 404 whatever it was."""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from dashboard import logstore
from dashboard.ansi import to_html
from dashboard.models import Build, Job, ShareLink
from dashboard.roles import can_operate
from dashboard.templatetags.dashboard_tags import ICONS, duration
from dashboard.views.common import build_or_404, job_or_404

SHARED_LOG_BYTES = 64 * 1024
EXPIRY_CHOICES = [("1", "1 hour"), ("24", "1 day"), ("168", "7 days"), ("720", "30 days")]


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


class ShareForm(forms.Form):
    expires_in = forms.TypedChoiceField(
        choices=EXPIRY_CHOICES, coerce=int, initial="24", label="Expires after", help_text="You can revoke it sooner."
    )


def _target(kind: str, slug: str, target: str, external_id: str) -> Build | Job:
    if target == "build":
        return build_or_404(kind, slug, external_id)
    if target == "job":
        return job_or_404(kind, slug, external_id)
    raise Http404("Only builds and jobs can be shared.")


@never_cache
def create_share(request: HttpRequest, kind: str, slug: str, target: str, external_id: str) -> HttpResponse:
    """Operators: make a share link for a build or job; its URL is shown once."""
    obj = _target(kind, slug, target, external_id)
    if not can_operate(request.user):
        raise PermissionDenied("Only operators may share.")
    form = ShareForm(request.POST or None)
    context = {"obj": obj, "target": target, "form": form, "back": reverse(target, args=[kind, slug, external_id])}
    if request.method == "POST" and form.is_valid():
        expires_at = timezone.now() + timedelta(hours=form.cleaned_data["expires_in"])
        link, secret = ShareLink.issue(obj, request.user, expires_at)
        context.update(link=link, share_url=request.build_absolute_uri(reverse("share", args=[secret])))
    return render(request, "dashboard/share_create.html", context, status=400 if form.errors else 200)


def share_links(request: HttpRequest) -> HttpResponse:
    """Active share links: an operator's own, every one for admins."""
    if not can_operate(request.user):
        raise PermissionDenied("Only operators share.")
    links = ShareLink.objects.filter(revoked_at__isnull=True, expires_at__gt=timezone.now()).select_related(
        "build__connection", "job__connection", "created_by"
    )
    if not request.user.is_staff:
        links = links.filter(created_by=request.user)
    return render(request, "dashboard/share_links.html", {"links": links})


@require_POST
def revoke_share(request: HttpRequest, pk: int) -> HttpResponse:
    if not can_operate(request.user):
        raise PermissionDenied("Only operators share.")
    link = get_object_or_404(ShareLink, pk=pk) if request.user.is_staff else None
    link = link or get_object_or_404(ShareLink, pk=pk, created_by=request.user)
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
    messages.success(request, f"Share link {link.prefix}… is revoked: it shows nothing any more.")
    return redirect("share-links")


@login_not_required
@never_cache
def shared(request: HttpRequest, secret: str) -> HttpResponse:
    """What a share link shows, to anyone: OpenGraph tags and a minimal read-only page."""
    link = ShareLink.find(secret)
    if link is None:
        response = render(request, "dashboard/share_gone.html", status=404)
    else:
        obj = link.target
        context = {"link": link, "obj": obj}
        if link.job_id:
            context.update(describe_job(obj), job=obj, build=obj.build, log_html=_log_tail(obj))
        else:
            context.update(describe_build(obj), build=obj, jobs=list(obj.jobs.defer("raw")))
        response = render(request, "dashboard/shared.html", context)
    response["X-Robots-Tag"] = "noindex, nofollow"
    # The URL is the credential: never send it on to another site.
    response["Referrer-Policy"] = "no-referrer"
    return response


def _log_tail(job: Job) -> str:
    log = getattr(job, "log", None)
    if log is None or not log.size:
        return ""
    offset = logstore.tail_offset(log, SHARED_LOG_BYTES)
    return to_html("".join(logstore.read(log, offset)))
