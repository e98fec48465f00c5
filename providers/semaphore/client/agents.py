"""Self-hosted agent types and agents (docs/providers/semaphore.md, "Self-hosted agents")."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from providers.base.errors import BadResponse
from providers.base.parse import obj, text

V1 = "/api/v1alpha"
AGENTS_PAGE_SIZE = 200


def _name(name: str) -> str:
    return quote(name, safe="")


class AgentCalls:
    def agent_types(self) -> list[dict]:
        return self.listed(self.get_json(f"{V1}/self_hosted_agent_types"), "agent_types", "agent types")

    def agent_type(self, name: str) -> dict:
        return self.expect(self.get_json(f"{V1}/self_hosted_agent_types/{_name(name)}"), dict, "the agent type")

    def create_agent_type(self, body: dict) -> dict:
        response = self.request("POST", f"{V1}/self_hosted_agent_types", json=body)
        return self.expect(self.parse_json(response), dict, "the created agent type")

    def update_agent_type(self, name: str, body: dict) -> dict:
        response = self.request("PATCH", f"{V1}/self_hosted_agent_types/{_name(name)}", json=body)
        return self.expect(self.parse_json(response), dict, "the agent type")

    def delete_agent_type(self, name: str) -> None:
        self.request("DELETE", f"{V1}/self_hosted_agent_types/{_name(name)}")

    def disable_agents(self, name: str, only_idle: bool = True) -> None:
        """Form-encoded, as the docs' example sends it; disabling twice does no harm."""
        self.request(
            "POST",
            f"{V1}/self_hosted_agent_types/{_name(name)}/disable_all",
            data={"only_idle": "true" if only_idle else "false"},
            idempotent=True,
        )

    def agents_page(
        self, cursor: str | None = None, *, agent_type: str = "", page_size: int = AGENTS_PAGE_SIZE
    ) -> tuple[list[dict], str | None]:
        """One page of agents and the cursor of the next (None on the last page)."""
        params: dict[str, Any] = {"page_size": page_size}
        if agent_type:
            params["agent_type"] = agent_type
        if cursor:
            params["cursor"] = cursor
        body = self.get_json(f"{V1}/agents", params=params)
        agents = self.listed(body, "agents", "agents")
        following = text(obj(body).get("cursor"), 10_000) or None
        if not agents and following:
            raise BadResponse("Semaphore sent an empty page of agents that says more follow.")
        return agents, following

    def agents(self, agent_type: str = "", page_size: int = AGENTS_PAGE_SIZE) -> list[dict]:
        """Every agent, through every page: a non-empty body ``cursor`` means there are more."""
        fetch = lambda cursor: self.agents_page(cursor, agent_type=agent_type, page_size=page_size)  # noqa: E731
        return self.collect(fetch, what="agents")
