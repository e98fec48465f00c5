from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from dashboard.actions import build_form, resolve_action, run_action


@never_cache
def action_view(
    request: HttpRequest, kind: str, slug: str, action_name: str, target: str, external_id: str
) -> HttpResponse:
    """GET: the action's form or confirmation. POST: do it, then go to the target's page
    with the answer, or show values the provider gives only once."""
    connection, action, obj = resolve_action(request.user, kind, slug, action_name, target, external_id)
    back = obj.get_absolute_url()
    context = {"connection": connection, "action": action, "obj": obj, "back": back}
    if request.method != "POST":
        return render(request, "dashboard/action.html", {**context, "form": build_form(action, obj=obj)})
    form = build_form(action, request.POST, obj)
    if not form.is_valid():
        return render(request, "dashboard/action.html", {**context, "form": form}, status=400)
    if action.destructive and request.POST.get("confirm") != "yes":
        return render(request, "dashboard/action.html", {**context, "form": form}, status=400)
    outcome = run_action(request.user, connection, action, obj, form.cleaned_data)
    if not outcome.ok:
        # Keep what the user typed: show the form again with the provider's words.
        return render(
            request,
            "dashboard/action.html",
            {**context, "form": form, "error": outcome.message},
            status=422 if action.form or outcome.refused else 502,
        )
    if outcome.result.once:
        response = render(request, "dashboard/action_done.html", {**context, "outcome": outcome})
        response["Cache-Control"] = "no-store"
        return response
    messages.success(request, outcome.message)
    return redirect(outcome.result.redirect or back)
