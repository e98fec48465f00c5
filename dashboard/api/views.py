from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Prefetch, prefetch_related_objects
from django.http import Http404, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard import capabilities, logstore
from dashboard.actions import build_form, find_target, resolve_action, run_action
from dashboard.filters import BuildFilter
from dashboard.models import (
    ActionLog,
    Agent,
    AgentType,
    Build,
    Connection,
    Deployment,
    DeploymentTarget,
    Job,
    RetentionPolicy,
    Schedule,
)
from dashboard.panels import panel_context
from dashboard.views.common import build_or_404, connection_or_404, job_or_404
from providers.base.adapter import Capability
from providers.registry import KINDS, LABELS, adapter_class

from .panels import plain
from .serializers import (
    ActionLogSerializer,
    AgentSerializer,
    AgentTypeSerializer,
    BuildDetailSerializer,
    BuildSerializer,
    ConnectionSerializer,
    DeploymentSerializer,
    DeploymentTargetSerializer,
    JobSerializer,
    RetentionPolicySerializer,
    ScheduleSerializer,
)


class NewestFirst(CursorPagination):
    """Keyset paging: the same cost on any page of any history."""

    ordering = ("-created_at", "-id")
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"


class ConnectionList(generics.ListAPIView):
    queryset = Connection.objects.all()
    serializer_class = ConnectionSerializer
    pagination_class = None


class BuildList(generics.ListAPIView):
    queryset = Build.objects.select_related("connection", "project", "pipeline")
    serializer_class = BuildSerializer
    filterset_class = BuildFilter
    pagination_class = NewestFirst


class BuildDetail(generics.RetrieveAPIView):
    serializer_class = BuildDetailSerializer
    queryset = Build.objects.none()

    def get_object(self) -> Build:
        build = build_or_404(self.kwargs["kind"], self.kwargs["slug"], self.kwargs["external_id"])
        prefetch_related_objects([build], Prefetch("jobs", queryset=Job.objects.select_related("connection")))
        return build


class JobDetail(generics.RetrieveAPIView):
    serializer_class = JobSerializer
    queryset = Job.objects.none()

    def get_object(self) -> Job:
        return job_or_404(self.kwargs["kind"], self.kwargs["slug"], self.kwargs["external_id"])


class JobLog(APIView):
    @extend_schema(responses={(200, "text/plain"): OpenApiTypes.STR})
    def get(self, request: Request, kind: str, slug: str, external_id: str) -> StreamingHttpResponse:
        """The job's log as stored so far, streamed as plain text."""
        job = job_or_404(kind, slug, external_id)
        log_row = logstore.log_for(job)
        response = StreamingHttpResponse(
            (part.encode() for part in logstore.read(log_row)), content_type="text/plain; charset=utf-8"
        )
        response["X-Log-Complete"] = "true" if log_row.complete else "false"
        return response


class ConnectionScoped(generics.ListAPIView):
    """Lists filtered by ``?connection=<slug>`` (and ``?provider=<kind>``)."""

    model = None
    related: tuple[str, ...] = ()
    # The list exists only while some connection's provider has this.
    capability: Capability | None = None

    def list(self, request, *args, **kwargs):
        if self.capability is not None and self.capability not in capabilities.present():
            raise Http404("No connected provider has this.")
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        queryset = self.model.objects.select_related("connection", *self.related)
        if slug := self.request.query_params.get("connection"):
            queryset = queryset.filter(connection__slug=slug)
        if kind := self.request.query_params.get("provider"):
            queryset = queryset.filter(connection__kind=kind)
        return queryset


class AgentTypeList(ConnectionScoped):
    model, serializer_class, capability = AgentType, AgentTypeSerializer, Capability.AGENTS


class AgentList(ConnectionScoped):
    model, serializer_class, related = Agent, AgentSerializer, ("agent_type",)
    capability = Capability.AGENTS


class DeploymentTargetList(ConnectionScoped):
    model, serializer_class, related = DeploymentTarget, DeploymentTargetSerializer, ("project",)
    capability = Capability.DEPLOYMENTS


class DeploymentList(ConnectionScoped):
    model, serializer_class, related = Deployment, DeploymentSerializer, ("target", "build__connection")
    capability = Capability.DEPLOYMENTS
    pagination_class = None

    def get_queryset(self):
        queryset = super().get_queryset()
        if target := self.request.query_params.get("target"):
            queryset = queryset.filter(target__external_id=target)
        return queryset[:500]


class RetentionPolicyList(ConnectionScoped):
    model, serializer_class, related = RetentionPolicy, RetentionPolicySerializer, ("project",)
    capability = Capability.RETENTION


class ScheduleList(ConnectionScoped):
    model, serializer_class, related = Schedule, ScheduleSerializer, ("pipeline",)
    capability = Capability.SCHEDULES


class ActionLogList(generics.ListAPIView):
    serializer_class = ActionLogSerializer
    queryset = ActionLog.objects.select_related("connection")

    class Paging(CursorPagination):
        ordering = ("-created_at", "-id")
        page_size = 50

    pagination_class = Paging


class ActionRun(APIView):
    """Press a button: the same checks, audit and answer as the pages. Parameters are the
    action form's fields, as JSON."""

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={
            200: OpenApiTypes.OBJECT,
            400: OpenApiTypes.OBJECT,
            403: OpenApiTypes.OBJECT,
            422: OpenApiTypes.OBJECT,
        },
    )
    def post(self, request: Request, kind: str, slug: str, action_name: str, target: str, external_id: str) -> Response:
        try:
            connection, action, obj = resolve_action(request.user, kind, slug, action_name, target, external_id)
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        data = request.data if isinstance(request.data, dict) else {}
        form = build_form(action, data, obj)
        if not form.is_valid():
            return Response({"ok": False, "errors": form.errors.get_json_data()}, status=400)
        if action.destructive and data.get("confirm") not in (True, "yes", "true"):
            return Response(
                {"ok": False, "message": f'{action.label} cannot be undone: send "confirm": true.'}, status=400
            )
        outcome = run_action(request.user, connection, action, obj, form.cleaned_data)
        if not outcome.ok:
            return Response({"ok": False, "message": outcome.message}, status=422)
        result = outcome.result
        response = Response(
            {"ok": True, "message": outcome.message, "once": result.once or None, "redirect": result.redirect}
        )
        response["Cache-Control"] = "no-store"
        return response


class PanelData(APIView):
    """What a provider panel shows on a page, as JSON (``panels`` of
    ``/api/providers/``: promotions, active jobs, metrics, task output, artifacts...)."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT})
    def get(self, request: Request, kind: str, slug: str, name: str, target: str, external_id: str) -> Response:
        connection = connection_or_404(kind, slug)
        obj = find_target(connection, target, external_id)
        panel = adapter_class(kind).panels.get(name)
        if panel is None or panel.page != target:
            raise Http404("No such panel on that page.")
        context = panel_context(request, obj, name)
        data = plain({k: v for k, v in context.items() if k != "panel_error"})
        return Response({"panel": name, "error": context.get("panel_error", ""), "data": data})


class ProviderList(APIView):
    """The registered providers: their capabilities, actions (with parameters) and panels."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        return Response(
            [
                {
                    "kind": kind,
                    "label": LABELS[kind],
                    "capabilities": sorted(adapter_class(kind).capabilities),
                    "actions": [
                        {
                            "name": a.name,
                            "label": a.label,
                            "target": a.target,
                            "destructive": a.destructive,
                            "parameters": list(a.form.base_fields) if a.form else [],
                        }
                        for a in adapter_class(kind).actions
                    ],
                    "panels": [{"name": p.name, "page": p.page, "live": p.live} for p in adapter_class(kind).panels],
                }
                for kind in KINDS
            ]
        )
