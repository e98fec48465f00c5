"""Channels, rules and the delivery log in Django admin."""

from django.urls import reverse

from dashboard.models import Delivery, NotificationChannel, NotificationRule

ADD = "/admin/dashboard/notificationchannel/add/"


def test_an_admin_adds_a_channel_whose_url_is_never_shown_again(admin_client_, receiver):
    url = receiver.url("hooks/s3cret-path-token")
    response = admin_client_.post(ADD, {"name": "ops chat", "url": url, "enabled": "on"})
    assert response.status_code == 302
    channel = NotificationChannel.objects.get()
    assert channel.url == url
    for page in ("/admin/dashboard/notificationchannel/", f"/admin/dashboard/notificationchannel/{channel.pk}/change/"):
        body = admin_client_.get(page).content
        assert b"s3cret-path-token" not in body, page
    assert b"JSON" in admin_client_.get("/admin/dashboard/notificationchannel/").content

    from django.db import connection as db

    with db.cursor() as cursor:
        cursor.execute("SELECT url FROM dashboard_notificationchannel")
        assert "s3cret" not in cursor.fetchone()[0]

    # Saving without a URL keeps the current one.
    change = f"/admin/dashboard/notificationchannel/{channel.pk}/change/"
    assert admin_client_.post(change, {"name": "renamed", "url": "", "enabled": "on"}).status_code == 302
    channel.refresh_from_db()
    assert (channel.name, channel.url) == ("renamed", url)


def test_a_url_apprise_cannot_use_is_refused_without_echoing_it(admin_client_):
    response = admin_client_.post(ADD, {"name": "x", "url": "slack://only-one-secret-token", "enabled": "on"})
    assert response.status_code == 200
    assert b"Apprise does not understand this slack:// URL" in response.content
    assert b"only-one-secret-token" not in response.content
    assert b"starts with its service" in admin_client_.post(ADD, {"name": "x", "url": "hooks.example.com"}).content
    assert not NotificationChannel.objects.exists()


def test_the_send_test_button_delivers_through_the_queue_and_logs_it(admin_client_, receiver, eager):
    channel = NotificationChannel.objects.create(name="ops", url=receiver.url())
    change = reverse("admin:dashboard_notificationchannel_change", args=[channel.pk])
    assert b"Send test message" in admin_client_.get(change).content

    response = admin_client_.post(
        reverse("admin:dashboard_notificationchannel_send_test", args=[channel.pk]), follow=True
    )

    assert b"Test message to ops queued" in response.content
    [message] = receiver.messages
    assert message["type"] == "info" and "ada sent this" in message["message"]
    delivery = Delivery.objects.get()
    assert (delivery.kind, delivery.status) == ("test", "sent")
    log = admin_client_.get("/admin/dashboard/delivery/").content
    assert b"Test message from the CI dashboard" in log


def test_the_admin_action_sends_a_test_to_each_selected_channel(admin_client_, receiver, eager):
    a = NotificationChannel.objects.create(name="a", url=receiver.url("a"))
    b = NotificationChannel.objects.create(name="b", url=receiver.url("b"))
    admin_client_.post(
        "/admin/dashboard/notificationchannel/", {"action": "send_test_message", "_selected_action": [a.pk, b.pk]}
    )
    assert sorted(m["path"] for m in receiver.messages) == ["/a", "/b"]


def test_a_rule_is_made_in_admin_with_its_scope_checked(admin_client_, synced_jp):
    channel = NotificationChannel.objects.create(name="ops", url="json://127.0.0.1:9/")
    pipeline = synced_jp.pipeline_set.select_related("project").first()
    response = admin_client_.post(
        "/admin/dashboard/notificationrule/add/",
        {
            "channel": channel.pk,
            "pipeline": pipeline.pk,
            "branch": "",
            "on_break": "on",
            "still_failing_hours": "4",
            "enabled": "on",
        },
    )
    assert response.status_code == 302, response.content[:3000]
    rule = NotificationRule.objects.get()
    assert (rule.connection, rule.project) == (synced_jp, pipeline.project)
    assert b"breaks, still failing 4 h" in admin_client_.get("/admin/dashboard/notificationrule/").content


def test_viewers_and_operators_cannot_read_the_delivery_log(client, viewer, operator):
    for user in (viewer, operator):
        client.force_login(user)
        assert client.get("/admin/dashboard/delivery/").status_code == 302
