"""Channels (URL write-only), rules, and the delivery log, with "send test message"."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from dashboard.feeds.forms import scope_formfield
from dashboard.models import Delivery, NotificationChannel, NotificationRule

from . import channels
from .delivery import make_test_message
from .tasks import enqueue


class ChannelForm(forms.ModelForm):
    url = forms.CharField(
        label="Apprise URL",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Write-only: stored encrypted and never shown again; leave blank to keep the current one. "
        "Examples: slack://TokenA/TokenB/TokenC/#channel, workflows://… (Teams), discord://WebhookID/Token, "
        "mailto://user:password@example.com, json://host/path (a generic webhook).",
    )

    class Meta:
        model = NotificationChannel
        fields = ["name", "url", "enabled"]

    def clean_url(self) -> str:
        url = self.cleaned_data.get("url", "")
        if not url and self.instance.pk and self.instance.url:
            return self.instance.url
        if reason := channels.problem(url):
            raise forms.ValidationError(reason)
        return url


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = ["name", "service", "enabled", "created_at"]
    list_filter = ["enabled"]
    actions = ["send_test_message"]

    @admin.display(description="service")
    def service(self, obj: NotificationChannel) -> str:
        return channels.service_name(obj.url)

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def get_urls(self):
        return [
            path(
                "<int:pk>/send-test/",
                self.admin_site.admin_view(self.send_test_view),
                name="dashboard_notificationchannel_send_test",
            ),
            *super().get_urls(),
        ]

    def _queue_test(self, request, channel: NotificationChannel) -> None:
        delivery = make_test_message(channel, request.user.get_username())
        enqueue(delivery.pk)
        log_url = reverse("admin:dashboard_delivery_change", args=[delivery.pk])
        self.message_user(
            request,
            format_html(
                'Test message to {} queued; <a href="{}">its delivery</a> shows how it went.', channel, log_url
            ),
            messages.SUCCESS,
        )

    def send_test_view(self, request, pk: int):
        if request.method != "POST" or not self.has_change_permission(request):
            return HttpResponseRedirect(reverse("admin:dashboard_notificationchannel_change", args=[pk]))
        self._queue_test(request, get_object_or_404(NotificationChannel, pk=pk))
        return HttpResponseRedirect(reverse("admin:dashboard_notificationchannel_change", args=[pk]))

    @admin.action(description="Send test message")
    def send_test_message(self, request, queryset) -> None:
        for channel in queryset:
            self._queue_test(request, channel)


@admin.register(NotificationRule)
class NotificationRuleAdmin(admin.ModelAdmin):
    list_display = ["__str__", "channel", "events", "enabled", "created_at"]
    list_filter = ["enabled", "channel", "connection"]
    fieldsets = [
        (None, {"fields": ["name", "channel", "enabled"]}),
        ("Watches (empty = any)", {"fields": ["connection", "project", "pipeline", "branch"]}),
        (
            "Events",
            {"fields": ["on_break", "on_recover", "still_failing_hours", "on_missed_schedule", "unhealthy_minutes"]},
        ),
    ]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return super().formfield_for_foreignkey(db_field, request, **scope_formfield(db_field, kwargs))

    @admin.display(description="events")
    def events(self, rule: NotificationRule) -> str:
        names = [
            "breaks" if rule.on_break else "",
            "recovers" if rule.on_recover else "",
            f"still failing {rule.still_failing_hours} h" if rule.still_failing_hours else "",
            "missed schedules" if rule.on_missed_schedule else "",
            f"unhealthy {rule.unhealthy_minutes} min" if rule.unhealthy_minutes else "",
        ]
        return ", ".join(n for n in names if n) or "none"

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "title", "channel", "status", "attempts", "short_error", "sent_at"]
    list_filter = ["status", "kind", "channel"]
    search_fields = ["title", "key"]
    readonly_fields = [f.name for f in Delivery._meta.fields]
    actions = ["send_again"]

    @admin.display(description="last error")
    def short_error(self, obj: Delivery) -> str:
        return (obj.last_error[:120] + "…") if len(obj.last_error) > 120 else obj.last_error

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Send again (failed ones)")
    def send_again(self, request, queryset) -> None:
        from django.utils import timezone

        failed = list(queryset.filter(status=Delivery.Status.FAILED).values_list("pk", flat=True))
        Delivery.objects.filter(pk__in=failed).update(
            status=Delivery.Status.PENDING, attempts=0, next_attempt_at=timezone.now()
        )
        for pk in failed:
            enqueue(pk)
        self.message_user(request, f"Queued {len(failed)} failed delivery(ies) again.", messages.SUCCESS)
