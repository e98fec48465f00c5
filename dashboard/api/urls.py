from django.contrib.auth.decorators import login_not_required, login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from dashboard.insights.urls import api_urlpatterns as insights_api

from . import views
from .docs import APIDocs, APIRoot


def api(view):
    # DRF authenticates API calls itself (token, session, or basic when enabled) and answers 401/403 in JSON,
    # instead of the login redirect pages get.
    return login_not_required(view.as_view())


urlpatterns = [
    path("", api(APIRoot), name="api-root"),
    # A page for people: anonymous visitors go to the login page (DRF views opt out of it).
    path("docs/", login_required(APIDocs.as_view()), name="api-docs"),
    path("schema/", login_not_required(SpectacularAPIView.as_view()), name="api-schema"),
    path("connections/", api(views.ConnectionList), name="api-connections"),
    path("builds/", api(views.BuildList), name="api-builds"),
    path("builds/<str:kind>/<slug:slug>/<path:external_id>", api(views.BuildDetail), name="api-build"),
    path("jobs/", api(views.JobList), name="api-jobs"),
    path("jobs/<str:kind>/<slug:slug>/<path:external_id>", api(views.JobDetail), name="api-job"),
    path("logs/<str:kind>/<slug:slug>/<path:external_id>", api(views.JobLog), name="api-job-log"),
    path("agent-types/", api(views.AgentTypeList), name="api-agent-types"),
    path("agents/", api(views.AgentList), name="api-agents"),
    path("deployment-targets/", api(views.DeploymentTargetList), name="api-deployment-targets"),
    path("deployments/", api(views.DeploymentList), name="api-deployments"),
    path("retention-policies/", api(views.RetentionPolicyList), name="api-retention-policies"),
    path("schedules/", api(views.ScheduleList), name="api-schedules"),
    path("action-log/", api(views.ActionLogList), name="api-action-log"),
    path("providers/", api(views.ProviderList), name="api-providers"),
    path(
        "panels/<str:kind>/<slug:slug>/<str:name>/<str:target>/<path:external_id>",
        api(views.PanelData),
        name="api-panel",
    ),
    path("sync-runs/", api(views.SyncRunList), name="api-sync-runs"),
    path("insights/", include(insights_api)),
    path(
        "actions/<str:kind>/<slug:slug>/<str:action_name>/<str:target>/<path:external_id>",
        api(views.ActionRun),
        name="api-action",
    ),
]
