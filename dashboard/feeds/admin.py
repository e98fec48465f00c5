"""Feed tokens in Django admin: made here or on the Feeds page, shown once, revocable."""

from django.contrib import admin, messages
from django.shortcuts import render
from django.utils import timezone

from dashboard.models import FeedToken

from . import tokens
from .forms import scope_formfield
from .views import created_context


@admin.register(FeedToken)
class FeedTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "scope_label", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "connection"]
    search_fields = ["name", "prefix", "branch"]
    fields = [
        "name",
        "connection",
        "project",
        "pipeline",
        "branch",
        "prefix",
        "created_by",
        "last_used_at",
        "revoked_at",
    ]
    readonly_fields = ["prefix", "created_by", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return super().formfield_for_foreignkey(db_field, request, **scope_formfield(db_field, kwargs))

    def save_model(self, request, obj: FeedToken, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        obj.created_by = request.user
        request.feed_token_secret = tokens.issue(obj)

    def response_add(self, request, obj: FeedToken, post_url_continue=None):
        secret = getattr(request, "feed_token_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        context = {**self.admin_site.each_context(request), **created_context(request, obj, secret), "opts": self.opts}
        response = render(request, "admin/dashboard/feedtoken/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)
