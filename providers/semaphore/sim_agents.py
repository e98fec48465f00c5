"""The simulated Semaphore's agents endpoints; mixed into SemaphoreSimulator."""

from __future__ import annotations

from werkzeug.routing import Rule


class AgentsSimMixin:
    def init_agents(self) -> None:
        """Seed this area's state (called once from the simulator's constructor)."""

    def agents_routes(self) -> list[Rule]:
        return []
