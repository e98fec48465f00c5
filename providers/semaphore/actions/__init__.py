"""Semaphore's buttons (docs/providers/semaphore.md), one module per feature (each
declares its actions on their handlers, beside their forms), combined in the order the
buttons are shown."""

from providers.base.actions import ActionSet

from . import agents, deployments, jobs, retention, workflows

actions = ActionSet(workflows.actions, jobs.actions, agents.actions, deployments.actions, retention.actions)

__all__ = ["actions"]
