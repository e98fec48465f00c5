"""Across every connection: schedules, self-hosted agents, deployments and artifact
retention, each a list of what the syncs stored, linking to the pages that act on them."""

from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from dashboard.capabilities import requires
from dashboard.models import ActionLog, Agent, AgentType, Deployment, DeploymentTarget, RetentionPolicy, Schedule
from dashboard.pagination import keyset_page
from providers.base.adapter import Capability


@requires(Capability.SCHEDULES)
def schedules(request: HttpRequest) -> HttpResponse:
    rows = Schedule.objects.select_related("connection", "project", "pipeline").order_by("next_run_at", "name")
    return render(request, "dashboard/schedules.html", {"schedules": rows, "now": timezone.now()})


@requires(Capability.AGENTS)
def agents(request: HttpRequest) -> HttpResponse:
    types = AgentType.objects.select_related("connection").annotate(
        connected=Count("agent"), busy=Count("agent", filter=Q(agent__state="busy"))
    )
    rows = Agent.objects.select_related("connection", "agent_type").order_by("agent_type__name", "name")
    return render(request, "dashboard/agents.html", {"types": types, "agents": rows})


@requires(Capability.DEPLOYMENTS)
def deployments(request: HttpRequest) -> HttpResponse:
    targets = DeploymentTarget.objects.select_related("connection", "project").order_by("project__name", "name")
    recent = Deployment.objects.select_related("connection", "target", "target__project", "build__connection").order_by(
        "-triggered_at", "-id"
    )[:50]
    return render(request, "dashboard/deployments.html", {"targets": targets, "recent": recent})


@requires(Capability.RETENTION)
def retention(request: HttpRequest) -> HttpResponse:
    policies = RetentionPolicy.objects.select_related("connection", "project").order_by("project__name")
    return render(request, "dashboard/retention.html", {"policies": policies})


def activity(request: HttpRequest) -> HttpResponse:
    """Who pressed which button, with what, and what the provider answered."""
    entries = ActionLog.objects.select_related("connection")
    page = keyset_page(entries, request.GET.get("after"), 50)
    return render(request, "dashboard/activity.html", {"page": page})
