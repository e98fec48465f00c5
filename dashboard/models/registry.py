"""The neutral models that adapters may write and actions may target, by the names
records, actions and panels use, in the order rows are written (referenced rows first)."""

from django.db import models

from .base import ProviderRow
from .builds import Build, Job, Pipeline, Project, Schedule
from .connections import Connection
from .infra import Agent, AgentType, Deployment, DeploymentTarget, RetentionPolicy

ROW_MODELS: dict[str, type[ProviderRow]] = {
    "project": Project,
    "pipeline": Pipeline,
    "schedule": Schedule,
    "build": Build,
    "job": Job,
    "agent_type": AgentType,
    "agent": Agent,
    "deployment_target": DeploymentTarget,
    "deployment": Deployment,
    "retention_policy": RetentionPolicy,
}
_NAMES = {model: name for name, model in ROW_MODELS.items()}


def model_named(name: str) -> type[ProviderRow]:
    """The model an adapter means by ``name``; a name we do not know is a programming error."""
    try:
        return ROW_MODELS[name]
    except KeyError:
        raise LookupError(f"no neutral model is called {name!r}") from None


def name_of(obj: models.Model) -> str | None:
    """The name actions and panels use for ``obj``'s kind ("connection" for a connection)."""
    if isinstance(obj, Connection):
        return "connection"
    return _NAMES.get(type(obj))
