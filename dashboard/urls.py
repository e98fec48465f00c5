from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from dashboard.ops.health import healthz
from dashboard.ops.metrics import metrics_view
from dashboard.previews import build_preview, job_preview
from dashboard.views import actions, builds, connections, jobs, overviews, pages

# Permalinks name the provider kind, the connection's slug and the provider's own id,
# so a link pasted in chat survives a resync or a rebuilt database.
provider_urls = [
    path("", pages.connection_detail, name="connection"),
    path("project/<path:external_id>", pages.project_detail, name="project"),
    path("pipeline/<path:external_id>", pages.pipeline_detail, name="pipeline"),
    path("do/<str:action_name>/<str:target>/<path:external_id>", actions.action_view, name="action"),
    path("panel/<str:name>/<str:target>/<path:external_id>", pages.panel, name="panel"),
    path("build/<path:external_id>", build_preview(builds.build_detail), name="build"),
    path("job/<path:external_id>", job_preview(jobs.job_detail), name="job"),
    path("job-log/<path:external_id>", jobs.job_log_tail, name="job-log-tail"),
    path("job-log-raw/<path:external_id>", jobs.job_log_raw, name="job-log-raw"),
]

urlpatterns = [
    path("", builds.build_list, name="builds"),
    path("connections/", connections.connection_list, name="connections"),
    path("schedules/", overviews.schedules, name="schedules"),
    path("agents/", overviews.agents, name="agents"),
    path("deployments/", overviews.deployments, name="deployments"),
    path("retention/", overviews.retention, name="retention"),
    path("activity/", overviews.activity, name="activity"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", include("dashboard.api.urls")),
    # Answered by dashboard.ops.health.OpsEndpointsMiddleware first; named here for reverse().
    path("healthz", login_not_required(healthz), name="healthz"),
    path("metrics", login_not_required(metrics_view), name="metrics"),
    path("<str:kind>/<slug:slug>/", include(provider_urls)),
]
