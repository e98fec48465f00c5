from datetime import UTC, datetime

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Count, DateTimeField, Prefetch, Q, Value, prefetch_related_objects
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard import capabilities
from dashboard.actions import build_form, find_target, resolve_action, run_action
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
    SyncRun,
)
from dashboard.panels import panel_context
from dashboard.views.common import build_or_404, connection_or_404, job_or_404
from providers.base.adapter import Capability
from providers.registry import KINDS, LABELS, adapter_class

from . import logs
from .filters import (
    ActionLogFilter,
    AgentFilter,
    AgentTypeFilter,
    BuildApiFilter,
    DeploymentFilter,
    DeploymentTargetFilter,
    JobFilter,
    RetentionPolicyFilter,
    ScheduleFilter,
    SyncRunFilter,
)
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
    JobListSerializer,
    JobSerializer,
    LogWindowQuery,
    RetentionPolicySerializer,
    ScheduleSerializer,
    SyncRunSerializer,
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
    queryset = Build.objects.listed()
    serializer_class = BuildSerializer
    filterset_class = BuildApiFilter
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


class JobList(generics.ListAPIView):
    """Jobs across every build, newest first."""

    queryset = Job.objects.select_related("connection", "build").defer("raw")
    serializer_class = JobListSerializer
    filterset_class = JobFilter

    class Paging(CursorPagination):
        ordering = ("-id",)
        page_size = 50
        max_page_size = 200
        page_size_query_param = "page_size"

    pagination_class = Paging


class JobLog(APIView):
    @extend_schema(
        parameters=[LogWindowQuery],
        responses={
            (200, "text/plain"): OpenApiResponse(
                OpenApiTypes.STR,
                description="The stored log bytes from ``offset`` (at most ``limit`` of them). Headers: "
                "``X-Log-Size`` (bytes stored so far), ``X-Log-Offset``, ``X-Log-Next-Offset`` (where the "
                "next window starts) and ``X-Log-Complete`` (``true`` once the job's log is whole).",
            ),
        },
    )
    def get(self, request: Request, kind: str, slug: str, external_id: str) -> HttpResponse:
        """The job's log, or a byte window of it: fetched from the provider first when it may have
        grown, like the job page does. Without ``limit`` the rest of the log is streamed."""
        query = LogWindowQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        offset, limit = query.validated_data["offset"], query.validated_data.get("limit")
        job = job_or_404(kind, slug, external_id)
        log_row = logs.fresh_log(job)
        if limit is None:
            # Exactly the bytes stored now, however much the log grows while they stream.
            rest = max(log_row.size - offset, 0)
            response = StreamingHttpResponse(
                logs.read_bytes(log_row, offset, rest), content_type="text/plain; charset=utf-8"
            )
            next_offset = offset + rest
        else:
            body = b"".join(logs.read_bytes(log_row, offset, limit))
            response = HttpResponse(body, content_type="text/plain; charset=utf-8")
            next_offset = offset + len(body)
        response["X-Log-Size"] = str(log_row.size)
        response["X-Log-Offset"] = str(offset)
        response["X-Log-Next-Offset"] = str(next_offset)
        response["X-Log-Complete"] = "true" if log_row.complete else "false"
        return response


class ConnectionScoped(generics.ListAPIView):
    """Lists of one kind of provider row, filtered by their FilterSet (``provider``,
    ``connection`` and more)."""

    model = None
    related: tuple[str, ...] = ()
    # The list exists only while some connection's provider has this.
    capability: Capability | None = None

    def list(self, request, *args, **kwargs):
        if self.capability is not None and self.capability not in capabilities.present():
            raise Http404("No connected provider has this.")
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        return self.model.objects.select_related("connection", *self.related).defer("raw")


class AgentTypeList(ConnectionScoped):
    model, serializer_class, filterset_class = AgentType, AgentTypeSerializer, AgentTypeFilter
    capability = Capability.AGENTS

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .annotate(connected=Count("agent"), busy=Count("agent", filter=Q(agent__state="busy")))
        )


class AgentList(ConnectionScoped):
    model, serializer_class, related = Agent, AgentSerializer, ("agent_type",)
    capability = Capability.AGENTS
    filterset_class = AgentFilter


class DeploymentTargetList(ConnectionScoped):
    model, serializer_class, related = DeploymentTarget, DeploymentTargetSerializer, ("project",)
    filterset_class = DeploymentTargetFilter
    capability = Capability.DEPLOYMENTS


class DeploymentList(ConnectionScoped):
    """A deployment history, newest first; page through it with ``triggered_before``."""

    model, serializer_class = Deployment, DeploymentSerializer
    related = ("target", "target__project", "build__connection")
    filterset_class = DeploymentFilter
    capability = Capability.DEPLOYMENTS

    class Paging(CursorPagination):
        # Entries the provider gave no time sort last; the id breaks ties.
        ordering = ("-when", "-id")
        page_size = 50
        max_page_size = 500
        page_size_query_param = "page_size"

    pagination_class = Paging

    def get_queryset(self):
        epoch = Value(datetime(1970, 1, 1, tzinfo=UTC), output_field=DateTimeField())
        return super().get_queryset().annotate(when=Coalesce("triggered_at", epoch))


class RetentionPolicyList(ConnectionScoped):
    model, serializer_class, related = RetentionPolicy, RetentionPolicySerializer, ("project",)
    filterset_class = RetentionPolicyFilter
    capability = Capability.RETENTION


class ScheduleList(ConnectionScoped):
    model, serializer_class, related = Schedule, ScheduleSerializer, ("project", "pipeline")
    filterset_class = ScheduleFilter
    capability = Capability.SCHEDULES


class ActionLogList(generics.ListAPIView):
    serializer_class = ActionLogSerializer
    queryset = ActionLog.objects.select_related("connection")
    filterset_class = ActionLogFilter

    class Paging(CursorPagination):
        ordering = ("-created_at", "-id")
        page_size = 50

    pagination_class = Paging


class SyncRunList(generics.ListAPIView):
    """Every sync: when, how it went, how many requests it made and rows it wrote."""

    serializer_class = SyncRunSerializer
    queryset = SyncRun.objects.select_related("connection")
    filterset_class = SyncRunFilter

    class Paging(CursorPagination):
        ordering = ("-started_at", "-id")
        page_size = 50
        max_page_size = 200
        page_size_query_param = "page_size"

    pagination_class = Paging


ACTION_DONE = inline_serializer(
    "ActionDone",
    {
        "ok": serializers.BooleanField(),
        "message": serializers.CharField(),
        "once": serializers.JSONField(allow_null=True, help_text="Shown once (e.g. a new secret); never stored."),
        "redirect": serializers.CharField(allow_null=True, allow_blank=True),
    },
)
ACTION_REFUSED = inline_serializer(
    "ActionRefused",
    {
        "ok": serializers.BooleanField(),
        "message": serializers.CharField(required=False),
        "errors": serializers.DictField(required=False, help_text="Each wrong parameter with its messages."),
    },
)


class ActionRun(APIView):
    """Press a button: the same checks, audit and answer as the pages. Parameters are the
    action form's fields, as JSON."""

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={
            200: ACTION_DONE,
            400: OpenApiResponse(ACTION_REFUSED, description="The parameters are wrong, or confirm is missing."),
            422: OpenApiResponse(ACTION_REFUSED, description="The provider refused; message holds its words."),
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


PROVIDER = inline_serializer(
    "Provider",
    {
        "kind": serializers.CharField(),
        "label": serializers.CharField(),
        "capabilities": serializers.ListField(child=serializers.CharField()),
        "actions": serializers.ListField(child=serializers.DictField()),
        "panels": serializers.ListField(child=serializers.DictField()),
    },
    many=True,
)
PANEL_DATA = inline_serializer(
    "PanelData",
    {"panel": serializers.CharField(), "error": serializers.CharField(), "data": serializers.DictField()},
)


class PanelData(APIView):
    """What a provider panel shows on a page, as JSON (``panels`` of
    ``/api/providers/``: promotions, active jobs, metrics, task output, artifacts...)."""

    @extend_schema(responses={200: PANEL_DATA, 404: OpenApiTypes.OBJECT})
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

    @extend_schema(responses={200: PROVIDER})
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
