"""The neutral states every provider's own states are mapped onto."""

from django.db import models


class State(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    BLOCKED = "blocked"
    PASSED = "passed"
    FAILED = "failed"
    CANCELED = "canceled"
    SKIPPED = "skipped"
    # The provider sent a value we do not know; the raw value sits beside it.
    UNKNOWN = "unknown"


FINISHED = frozenset({State.PASSED, State.FAILED, State.CANCELED, State.SKIPPED})
ACTIVE = frozenset({State.QUEUED, State.RUNNING, State.BLOCKED})


def is_finished(state: str) -> bool:
    return state in FINISHED


def normalise(raw: object, mapping: dict[str, State]) -> State:
    """Map a provider's raw state; anything unexpected (None, a number, a new enum
    value) becomes UNKNOWN rather than an error."""
    if not isinstance(raw, str):
        return State.UNKNOWN
    return mapping.get(raw, mapping.get(raw.lower(), State.UNKNOWN))
