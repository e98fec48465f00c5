"""Pressing a button: role check, parameter validation, the provider call, the audit
record, and storing the new state the provider answered with. Pages and the API both
come through ``run_action``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404
from django.shortcuts import get_object_or_404

from dashboard import audit
from dashboard.models import ActionLog, Build, Connection
from dashboard.models.registry import ROW_MODELS, name_of
from dashboard.roles import can_operate
from dashboard.secrets import mask_params
from providers.base.adapter import Action, Adapter
from providers.base.errors import NotFound, ProviderError, Rejected
from providers.base.errors import PermissionDenied as ProviderPermissionDenied
from providers.base.forms import ActionForm
from providers.base.records import ActionResult
from providers.registry import adapter_class

log = logging.getLogger(__name__)


def build_form(action: Action, data=None, obj=None) -> forms.Form:
    if action.form is None:
        return forms.Form(data)
    if issubclass(action.form, ActionForm):
        return action.form(data, target=obj)
    return action.form(data)


def find_target(connection: Connection, target: str, external_id: str) -> models.Model:
    if target == "connection":
        return connection
    model = ROW_MODELS.get(target)
    if model is None:
        raise Http404("No such target.")
    return get_object_or_404(model, connection=connection, external_id=external_id)


def target_name(obj: models.Model) -> str | None:
    """The name an Action uses for ``obj``'s kind of target."""
    return name_of(obj)


def resolve_action(
    user: AbstractBaseUser, kind: str, slug: str, action_name: str, target: str, external_id: str
) -> tuple[Connection, Action, models.Model]:
    """What a button press names, for pages and the API alike: 404 for an unknown
    connection, action or object; 403 unless the user may operate."""
    connection = get_object_or_404(Connection, kind=kind, slug=slug)
    action = adapter_class(kind).action(action_name)
    if action is None or action.target != target:
        raise Http404("No such action for this provider.")
    if not can_operate(user):
        raise PermissionDenied("Only operators may do this.")
    return connection, action, find_target(connection, target, external_id)


def connection_of(obj: models.Model) -> Connection:
    return obj if isinstance(obj, Connection) else obj.connection


def target_id(obj: models.Model) -> str:
    return "-" if isinstance(obj, Connection) else obj.external_id


def loggable(params: dict, action: Action) -> dict:
    """Parameters as the audit log keeps them: names kept, secret values masked (by
    declaration and by shape, see dashboard.secrets), values made JSON-safe."""
    return mask_params(params, action.secret_fields).params


@dataclass
class Outcome:
    ok: bool
    message: str
    result: ActionResult | None = None
    # The provider said no (bad input, not allowed, no such thing), as opposed to failing.
    refused: bool = False


def run_action(
    user: AbstractBaseUser, connection: Connection, action: Action, obj: models.Model, params: dict[str, Any]
) -> Outcome:
    """Check the role, call the provider, record who did what and what it answered."""
    if not can_operate(user):
        raise PermissionDenied("Only operators may do this.")
    adapter: Adapter = adapter_class(connection.kind)(connection)
    masked = mask_params(params, action.secret_fields)
    entry = ActionLog(
        user=user,
        username=user.get_username(),
        connection=connection,
        action=action.name,
        target=f"{action.target}:{target_id(obj)}",
        params=masked.params,
    )
    try:
        reason = action.unavailable(obj) if action.unavailable else ""
        if reason or not action.offered_for(obj):
            raise ProviderError(reason or f"{action.label} does not apply here.")
        result = adapter.perform(action, obj, params, user)
    except ProviderError as exc:
        entry.ok, entry.answer = False, masked.redact(str(exc))
        audit.record(entry)
        if exc.refresh is not None:  # the refusal told us the object's new state
            from dashboard.apply import apply_batch

            apply_batch(connection, exc.refresh)
        return Outcome(False, str(exc), refused=isinstance(exc, (Rejected, NotFound, ProviderPermissionDenied)))
    finally:
        adapter.close()
    entry.ok, entry.answer = True, masked.redact(result.message)
    audit.record(entry)
    if result.refresh is not None:
        from dashboard.apply import apply_batch

        apply_batch(connection, result.refresh)
    if result.show_build and not result.redirect:
        started = Build.objects.filter(connection=connection, external_id=result.show_build).first()
        result.redirect = started.get_absolute_url() if started else None
    return Outcome(True, result.message, result)
