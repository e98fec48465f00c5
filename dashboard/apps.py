from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


def ensure_role_groups(sender, **kwargs) -> None:
    from django.contrib.auth.models import Group, Permission

    from dashboard.roles import OPERATOR_GROUP, VIEWER_GROUP

    Group.objects.get_or_create(name=VIEWER_GROUP)
    operator, _ = Group.objects.get_or_create(name=OPERATOR_GROUP)
    perm = Permission.objects.filter(codename="operate", content_type__app_label="dashboard").first()
    if perm:
        operator.permissions.add(perm)


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "CI dashboard"

    def ready(self) -> None:
        post_migrate.connect(ensure_role_groups, sender=self)
        from dashboard.dbtime import use_fast_timestamps

        connection_created.connect(use_fast_timestamps, dispatch_uid="dashboard-fast-timestamps")
        from dashboard.notify.events import connect as connect_notifications

        connect_notifications()

        from dashboard.insights.receivers import connect as connect_insights

        connect_insights()

        from dashboard.freshness import connect as connect_freshness

        connect_freshness()
