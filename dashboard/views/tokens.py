"""The "API tokens" page: each person makes tokens for their scripts (shown once) and
revokes them; only digests are stored."""

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from dashboard.models import ApiToken

MAX_TOKENS = 20


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. the script that uses it.")


@never_cache
def api_tokens(request: HttpRequest) -> HttpResponse:
    tokens = ApiToken.objects.filter(user=request.user)
    form = TokenForm(request.POST or None)
    context = {"tokens": tokens, "form": form, "new_secret": None}
    if request.method == "POST" and form.is_valid():
        if tokens.count() >= MAX_TOKENS:
            form.add_error(None, f"You have {MAX_TOKENS} tokens already: revoke one you no longer use first.")
        else:
            token, secret = ApiToken.issue(request.user, form.cleaned_data["name"])
            context.update(new_secret=secret, new_token=token, form=TokenForm())
    return render(request, "dashboard/api_tokens.html", context, status=400 if form.errors else 200)


@require_POST
def revoke_api_token(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    token.delete()
    messages.success(request, f"Token {token.name} ({token.prefix}…) is revoked: scripts using it are refused now.")
    return redirect("api-tokens")
