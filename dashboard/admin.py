from urllib.parse import urlsplit

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied as Forbidden
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from dashboard.fields import is_unreadable
from dashboard.models import ActionLog, Connection, SyncRun
from dashboard.public_errors import TOKEN_UNREADABLE, admin_error
from dashboard.secrets import strip_url_credentials
from providers.base import outbound
from providers.base.errors import AuthError, BadResponse, PermissionDenied, ProviderError, Unavailable
from providers.registry import KIND_CHOICES, adapter_class


class ConnectionForm(forms.ModelForm):
    kind = forms.ChoiceField(choices=KIND_CHOICES)
    base_url = forms.URLField(
        max_length=500, assume_scheme="https", help_text="The provider's API root, e.g. https://acme.semaphoreci.com"
    )
    token = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only: stored encrypted and never shown again. Leave blank to keep the current token.",
    )

    class Meta:
        model = Connection
        fields = ["kind", "name", "slug", "base_url", "token", "options", "sync_interval", "enabled"]

    def clean_base_url(self) -> str:
        url = self.cleaned_data["base_url"].rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise forms.ValidationError("The base URL must start with http:// or https://.")
        if "@" in urlsplit(url).netloc:
            # Shown again without them: credentials typed here must not stay on the page.
            self.data = self.data.copy()
            self.data[self.add_prefix("base_url")] = strip_url_credentials(url)
            raise forms.ValidationError(
                "Remove the user name and password from the URL: put the credentials in the token field, "
                "which is stored encrypted and never shown (the URL is shown on the connection pages)."
            )
        try:
            outbound.check_base_url(url)
        except outbound.OutboundRefused as exc:
            raise forms.ValidationError(f"This address is not allowed: {exc.reason}.") from exc
        return url

    def clean_token(self) -> str:
        token = self.cleaned_data.get("token", "")
        if token:
            if any(c.isspace() for c in token):
                raise forms.ValidationError("The token must not contain spaces or line breaks.")
            return token
        if self.instance.pk and is_unreadable(self.instance.token):
            raise forms.ValidationError(
                "The stored token cannot be decrypted with FIELD_ENCRYPTION_KEY (a key was removed): enter it again."
            )
        if self.instance.pk and self.instance.token:
            return self.instance.token
        raise forms.ValidationError("A token is required to reach the provider.")

    def clean_options(self) -> dict:
        options = self.cleaned_data.get("options")
        if options in (None, ""):
            return {}
        if not isinstance(options, dict):
            raise forms.ValidationError('Options must be a JSON object, for example {"project_ids": ["..."]}.')
        return options


def describe_check(connection: Connection, *, interactive: bool = False) -> tuple[int, str]:
    """Test a connection and say how it went in words. ``interactive``: an admin waits on
    the page, so the provider is asked briefly."""
    if is_unreadable(connection.token):
        return messages.ERROR, f"{connection}: {TOKEN_UNREADABLE}"
    adapter = adapter_class(connection.kind)(connection, interactive=interactive)
    try:
        seen = adapter.check()
    except AuthError as exc:
        return messages.ERROR, f"{connection}: bad token ({exc})"
    except PermissionDenied as exc:
        return messages.WARNING, f"{connection}: the token works but lacks permission ({exc})"
    except Unavailable as exc:
        return messages.ERROR, f"{connection}: unreachable ({exc})"
    except (BadResponse, ProviderError) as exc:
        return messages.ERROR, f"{connection}: unexpected answer ({exc})"
    finally:
        adapter.close()
    return messages.SUCCESS, f"{connection}: {seen}"


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    form = ConnectionForm
    list_display = ["name", "kind", "shown_base_url", "health_badge", "last_synced_at", "short_error", "token_status"]
    list_filter = ["kind", "health", "enabled"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["health", "last_error", "last_synced_at", "next_sync_at", "token_status"]
    actions = ["test_connection", "sync_now"]
    fieldsets = [
        (None, {"fields": ["kind", "name", "slug", "base_url", "token", "options"]}),
        ("Sync", {"fields": ["sync_interval", "enabled", "health", "last_error", "last_synced_at", "next_sync_at"]}),
    ]

    change_form_template = "admin/dashboard/connection/change_form.html"

    @admin.display(description="token")
    def token_status(self, obj: Connection) -> str:
        if is_unreadable(obj.token):
            return "unreadable: re-enter it (no FIELD_ENCRYPTION_KEY key decrypts it)"
        return "set (hidden)" if obj.token else "missing"

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        # One Token row: what is stored is said in the field's help, never the value.
        token = form.base_fields["token"]
        base = ConnectionForm.base_fields["token"].help_text
        token.help_text = f"{base} Currently: {self.token_status(obj)}." if obj is not None else base
        return form

    def save_model(self, request, obj: Connection, form, change: bool) -> None:
        """Save, then test the connection and say how it went; a failing test never
        loses what was typed."""
        super().save_model(request, obj, form, change)
        level, message = describe_check(obj, interactive=True)
        self.message_user(request, f"Connection test: {message}", level)

    def get_urls(self):
        test = self.admin_site.admin_view(require_POST(self.test_view))
        return [path("<int:pk>/test/", test, name="dashboard_connection_test"), *super().get_urls()]

    def test_view(self, request: HttpRequest, pk: int) -> HttpResponseRedirect:
        """The change page's Test connection button."""
        connection = get_object_or_404(Connection, pk=pk)
        if not self.has_view_or_change_permission(request, connection):
            raise Forbidden("Only admins may test connections.")
        level, message = describe_check(connection, interactive=True)
        self.message_user(request, message, level)
        return HttpResponseRedirect(reverse("admin:dashboard_connection_change", args=[pk]))

    @admin.display(description="base URL", ordering="base_url")
    def shown_base_url(self, obj: Connection) -> str:
        return strip_url_credentials(obj.base_url)

    @admin.display(description="health", ordering="health")
    def health_badge(self, obj: Connection) -> str:
        return format_html('<span class="health health-{}">{}</span>', obj.health, obj.get_health_display())

    @admin.display(description="last error")
    def short_error(self, obj: Connection) -> str:
        return admin_error(obj.last_error, 120)

    @admin.action(description="Test connection")
    def test_connection(self, request, queryset) -> None:
        for connection in queryset:
            level, message = describe_check(connection)
            self.message_user(request, message, level)

    @admin.action(description="Sync now")
    def sync_now(self, request, queryset) -> None:
        from dashboard.tasks import sync_connection

        for connection in queryset:
            sync_connection.delay(connection.pk)
        self.message_user(request, f"Sync queued for {queryset.count()} connection(s).", messages.SUCCESS)


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = [
        "connection",
        "started_at",
        "status",
        "duration",
        "requests",
        "created",
        "updated",
        "unchanged",
        "error",
    ]
    list_filter = ["status", "connection"]
    readonly_fields = [f.name for f in SyncRun._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ActionLog)
class ActionLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "username", "connection", "action", "target", "ok", "answer"]
    list_filter = ["action", "ok", "connection"]
    search_fields = ["username", "target", "answer"]
    readonly_fields = [f.name for f in ActionLog._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# Feed tokens, notification channels, rules and the delivery log have their own modules.
from dashboard.feeds import admin as feeds_admin  # noqa: E402, F401
from dashboard.notify import admin as notify_admin  # noqa: E402, F401
