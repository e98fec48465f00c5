from django.db.models import Prefetch, prefetch_related_objects
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.views import APIView

from dashboard import logstore
from dashboard.filters import BuildFilter
from dashboard.models import Build, Connection, Job
from dashboard.views.common import build_or_404, job_or_404

from .serializers import BuildDetailSerializer, BuildSerializer, ConnectionSerializer, JobSerializer


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
