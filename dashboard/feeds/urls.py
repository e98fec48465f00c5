from django.urls import path

from . import views

urlpatterns = [
    path("cctray.xml", views.cctray_feed, name="cctray"),
    path("badge/<str:kind>/<slug:slug>.svg", views.connection_badge, name="badge-connection"),
    path("badge/<str:kind>/<slug:slug>/project/<path:external_id>.svg", views.project_badge, name="badge-project"),
    path("badge/<str:kind>/<slug:slug>/pipeline/<path:external_id>.svg", views.pipeline_badge, name="badge-pipeline"),
    path("feeds/", views.feeds_page, name="feeds"),
    path("feeds/tokens/", views.create_token, name="feed-token-create"),
    path("feeds/tokens/<int:pk>/revoke", views.revoke_token, name="feed-token-revoke"),
]
