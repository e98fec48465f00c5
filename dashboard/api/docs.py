"""The API's own pages: the root that lists the endpoints and the interactive docs.

The docs are Swagger UI served from our static files (drf-spectacular-sidecar), in the
"split" setup whose start-up script is a separate request, so the page needs no inline
script or style and works under a strict Content-Security-Policy."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import APIRootView

from dashboard import capabilities

# Name shown in the root -> URL name; lists and documents, not per-object endpoints.
ENDPOINTS = {
    "connections": "api-connections",
    "builds": "api-builds",
    "jobs": "api-jobs",
    "sync-runs": "api-sync-runs",
    "schedules": "api-schedules",
    "agent-types": "api-agent-types",
    "agents": "api-agents",
    "deployment-targets": "api-deployment-targets",
    "deployments": "api-deployments",
    "retention-policies": "api-retention-policies",
    "action-log": "api-action-log",
    "providers": "api-providers",
    "schema": "api-schema",
    "docs": "api-docs",
}


# Lists that exist only while some connection's provider has the capability.
GATED = {
    "schedules": "schedules",
    "agent-types": "agents",
    "agents": "agents",
    "deployment-targets": "deployments",
    "deployments": "deployments",
    "retention-policies": "retention",
}


class APIRoot(APIRootView):
    """Every list of the API and where its schema and docs are, DRF's API-root style."""

    schema = AutoSchema()  # DRF leaves its root out of the schema; ours is an endpoint like the others
    api_root_dict = ENDPOINTS

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, operation_id="api_root")
    def get(self, request: Request, *args, **kwargs) -> Response:
        # Lists of what no connected provider has do not exist (dashboard.capabilities).
        present = {c.value for c in capabilities.present()}
        self.api_root_dict = {
            name: url for name, url in ENDPOINTS.items() if GATED.get(name) is None or GATED[name] in present
        }
        return super().get(request, *args, **kwargs)


class APIDocs(SpectacularSwaggerSplitView):
    template_name = "api/docs.html"
    url_name = "api-schema"
    title = "CI dashboard API"
