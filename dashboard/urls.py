from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from dashboard import previews
from dashboard.ops.health import healthz
from dashboard.ops.metrics import metrics_view
from dashboard.views import actions, builds, connections, home, jobs, overviews, pages, tokens

# Permalinks name the provider kind, the connection's slug and the provider's own id,
# so a link pasted in chat survives a resync or a rebuilt database.
provider_urls = [
    path("", pages.connection_detail, name="connection"),
    path("project/<path:external_id>", pages.project_detail, name="project"),
    path("pipeline/<path:external_id>", pages.pipeline_detail, name="pipeline"),
    path("do/<str:action_name>/<str:target>/<path:external_id>", actions.action_view, name="action"),
    path("panel/<str:name>/<str:target>/<path:external_id>", pages.panel, name="panel"),
    path("build/<path:external_id>", builds.build_detail, name="build"),
    path("job/<path:external_id>", jobs.job_detail, name="job"),
    path("share/<str:target>/<path:external_id>", previews.create_share, name="share-create"),
    path("job-log/<path:external_id>", jobs.job_log_tail, name="job-log-tail"),
    path("job-log-raw/<path:external_id>", jobs.job_log_raw, name="job-log-raw"),
    path("job-log-lines/<path:external_id>", jobs.job_log_lines, name="job-log-lines"),
    path("job-log-search/<path:external_id>", jobs.job_log_search, name="job-log-search"),
]

urlpatterns = [
    path("", home.home, name="home"),
    path("builds/", builds.build_list, name="builds"),
    path("wall/", home.wall, name="wall"),
    path("status.json", home.status, name="status"),
    path("connections/", connections.connection_list, name="connections"),
    path("schedules/", overviews.schedules, name="schedules"),
    path("agents/", overviews.agents, name="agents"),
    path("deployments/", overviews.deployments, name="deployments"),
    path("retention/", overviews.retention, name="retention"),
    path("activity/", overviews.activity, name="activity"),
    path("account/api-tokens/", tokens.api_tokens, name="api-tokens"),
    path("account/api-tokens/<int:pk>/revoke", tokens.revoke_api_token, name="api-token-revoke"),
    path("shares/", previews.share_links, name="share-links"),
    path("shares/<int:pk>/revoke", previews.revoke_share, name="share-revoke"),
    path("s/<str:secret>", previews.shared, name="share"),
    path("insights/", include("dashboard.insights.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", include("dashboard.api.urls")),
    # Answered by dashboard.ops.health.OpsEndpointsMiddleware first; named here for reverse().
    path("healthz", login_not_required(healthz), name="healthz"),
    path("metrics", login_not_required(metrics_view), name="metrics"),
    path("", include("dashboard.feeds.urls")),
    path("favicon.ico", login_not_required(RedirectView.as_view(url=static("favicon/unknown.svg"))), name="favicon"),
    path("<str:kind>/<slug:slug>/", include(provider_urls)),
]
