"""Self-hosted agent capacity over time. The provider only ever shows the agents that
are connected now, so each sync samples them (online and busy per agent type) and adds
the sample to its hour's row; the hours are the history."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from dashboard.models import Agent, AgentHour, AgentType


def is_busy(state: str) -> bool:
    """The agent's neutral state (``idle``, ``busy``, ``disabled``, ``offline``)."""
    return state == "busy"


def counts(connection_id: int) -> dict[str, tuple[int, int]]:
    """Agent type name -> (online, busy) as the connection's rows say now."""
    found = {
        name: [0, 0] for name in AgentType.objects.filter(connection_id=connection_id).values_list("name", flat=True)
    }
    for type_name, state, disabled_at in Agent.objects.filter(connection_id=connection_id).values_list(
        "agent_type__name", "state", "disabled_at"
    ):
        if disabled_at is not None or state in ("disabled", "offline"):
            continue  # takes no jobs
        tally = found.setdefault(type_name or "", [0, 0])
        tally[0] += 1
        tally[1] += is_busy(state)
    return {name: (online, busy) for name, (online, busy) in found.items()}


def sample(connection_id: int, at: datetime | None = None) -> int:
    """Add one sample per agent type to the current hour; returns the types sampled."""
    now = at or timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    seen = counts(connection_id)
    if not seen:
        return 0
    with transaction.atomic():
        for name, (online, busy) in sorted(seen.items()):
            AgentHour.objects.get_or_create(connection_id=connection_id, agent_type=name[:255], hour=hour)
            AgentHour.objects.filter(connection_id=connection_id, agent_type=name[:255], hour=hour).update(
                samples=F("samples") + 1,
                online_sum=F("online_sum") + online,
                busy_sum=F("busy_sum") + busy,
                online_max=Greatest(F("online_max"), online),
                busy_max=Greatest(F("busy_max"), busy),
                saturated=F("saturated") + (1 if online and busy >= online else 0),
            )
    return len(seen)
