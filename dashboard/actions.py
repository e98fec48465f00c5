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
from django.shortcuts import get_object_or_404

from dashboard.models import (
    ActionLog,
    Agent,
    AgentType,
    Build,
    Connection,
    DeploymentTarget,
    Job,
    Pipeline,
    Project,
    RetentionPolicy,
    Schedule,
)
from dashboard.roles import can_operate
from dashboard.secrets import mask_params
from providers.base.adapter import Action, Adapter
from providers.base.errors import ProviderError
from providers.base.forms import ActionForm
from providers.base.records import ActionResult
from providers.registry import adapter_class

log = logging.getLogger(__name__)

# Target name (as in ``Action.target``) -> model; provider-specific models join here.
TARGET_MODELS: dict[str, type[models.Model]] = {
    "build": Build,
    "job": Job,
    "pipeline": Pipeline,
    "project": Project,
    "schedule": Schedule,
    "agent_type": AgentType,
    "agent": Agent,
    "deployment_target": DeploymentTarget,
    "retention_policy": RetentionPolicy,
}


def build_form(action: Action, data=None, obj=None) -> forms.Form:
    if action.form is None:
        return forms.Form(data)
    if issubclass(action.form, ActionForm):
        return action.form(data, target=obj)
    return action.form(data)


def find_target(connection: Connection, target: str, external_id: str) -> models.Model:
    if target == "connection":
        return connection
    model = TARGET_MODELS.get(target)
    if model is None:
        raise LookupError(target)
    return get_object_or_404(model, connection=connection, external_id=external_id)


def target_name(obj: models.Model) -> str | None:
    """The name an Action uses for ``obj``'s kind of target."""
    if isinstance(obj, Connection):
        return "connection"
    return next((name for name, model in TARGET_MODELS.items() if isinstance(obj, model)), None)


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
        entry.save()
        return Outcome(False, str(exc))
    finally:
        adapter.close()
    entry.ok, entry.answer = True, masked.redact(result.message)
    entry.save()
    if result.refresh is not None:
        from dashboard.sync import apply_batch

        apply_batch(connection, result.refresh)
    return Outcome(True, result.message, result)
