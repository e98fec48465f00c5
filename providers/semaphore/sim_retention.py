"""The simulated Semaphore's retention endpoints; mixed into SemaphoreSimulator."""

from __future__ import annotations

from werkzeug.routing import Rule


class RetentionSimMixin:
    def init_retention(self) -> None:
        """Seed this area's state (called once from the simulator's constructor)."""

    def retention_routes(self) -> list[Rule]:
        return []
