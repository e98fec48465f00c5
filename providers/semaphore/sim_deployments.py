"""The simulated Semaphore's deployments endpoints; mixed into SemaphoreSimulator."""

from __future__ import annotations

from werkzeug.routing import Rule


class DeploymentsSimMixin:
    def init_deployments(self) -> None:
        """Seed this area's state (called once from the simulator's constructor)."""

    def deployments_routes(self) -> list[Rule]:
        return []
