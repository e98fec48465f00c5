"""Semaphore self-hosted agent types and agents (semaphore.md section 8, seed 002
"Self-hosted agent types" and "Self-hosted agents"): client calls, sync, actions and the
connection panel.

Sync lists every agent type, then every agent (all pages of the body ``cursor``), in one
batch; rows we hold that the lists no longer show are removed (deleted types, agents
that left after being disabled). Agent types and agents belong to the organisation, not
to a project.

The registration token Semaphore returns when a type is created is handed to the user
once (``ActionResult.once``); it is cut out of the stored raw JSON and never appears in
messages or logs.

Assumptions where the docs are silent:
- agent type names start with ``s1-`` (as in every example; Semaphore's UI shows the
  prefix), so our form asks for it;
- ``options["agents_page_size"]`` (default 200, Semaphore's default) sets the page size;
  ``options["sync_agents"] = False`` skips this part of the sync (for tokens that may not
  see agents, which otherwise make every sync partial with a "Permission denied")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from django import forms

from providers.base.adapter import Action
from providers.base.errors import ProviderError
from providers.base.forms import ActionForm
from providers.base.parse import integer, items, obj, text, timestamp
from providers.base.records import ActionResult, Batch, ProjectRecord, RowRecord

if TYPE_CHECKING:
    from django.http import HttpRequest

    from dashboard.models import Connection

V1 = "/api/v1alpha"
ORIGINS = {"agent": "assignment_origin_agent", "aws_sts": "assignment_origin_aws_sts"}
AGENTS_PAGE_SIZE = 200
MAX_AGENT_PAGES = 1000  # a cursor that never ends is a broken server, not a big fleet


# Rows ---------------------------------------------------------------------------------------
def without_token(body: Any) -> dict:
    """The agent type as we keep it: the one-time registration token cut out."""
    body = dict(obj(body))
    status = dict(obj(body.get("status")))
    status.pop("registration_token", None)
    body["status"] = status
    return body


def agent_type_row(body: Any) -> RowRecord | None:
    body = without_token(body)
    meta = obj(body.get("metadata"))
    name = text(meta.get("name"), 255)
    if not name:
        return None
    settings = obj(obj(body.get("spec")).get("agent_name_settings"))
    return RowRecord(
        model="agent_type",
        external_id=name,
        fields={
            "name": name,
            "assignment_origin": text(settings.get("assignment_origin"), 64),
            "release_after": integer(settings.get("release_after")),
            "total_agents": integer(obj(body.get("status")).get("total_agent_count")),
            "created_at": timestamp(meta.get("create_time")),
            "updated_at": timestamp(meta.get("update_time")),
            "raw": body,
        },
    )


def agent_row(body: Any) -> RowRecord | None:
    body = obj(body)
    meta = obj(body.get("metadata"))
    name = text(meta.get("name"), 255)
    if not name:
        return None
    type_name = text(meta.get("type"), 255)
    return RowRecord(
        model="agent",
        external_id=name,
        fields={
            "name": name,
            "state": text(obj(body.get("status")).get("state"), 64),
            "version": text(meta.get("version"), 64),
            "os": text(meta.get("os"), 255),
            "arch": text(meta.get("arch"), 64),
            "hostname": text(meta.get("hostname"), 255),
            "ip_address": text(meta.get("ip_address"), 64),
            "pid": integer(meta.get("pid")),
            "connected_at": timestamp(meta.get("connected_at")),
            "disabled_at": timestamp(meta.get("disabled_at")),
            "raw": body,
        },
        refs={"agent_type": ("agent_type", type_name or None)},
    )


def short_origin(value: str) -> str:
    return value.removeprefix("assignment_origin_")


# Client ---------------------------------------------------------------------------------------
class AgentsClientMixin:
    """Client calls for agent types and agents; mixed into SemaphoreClient."""

    def agent_types(self) -> list[dict]:
        body = self.expect(self.get_json(f"{V1}/self_hosted_agent_types"), dict, "the agent types answer")
        return [obj(a) for a in self.expect(body.get("agent_types", []), list, "agent_types")]

    def agent_type(self, name: str) -> dict:
        return self.expect(
            self.get_json(f"{V1}/self_hosted_agent_types/{quote(name, safe='')}"), dict, "the agent type"
        )

    def create_agent_type(self, body: dict) -> dict:
        response = self.request("POST", f"{V1}/self_hosted_agent_types", json=body)
        return self.expect(self.parse_json(response), dict, "the created agent type")

    def update_agent_type(self, name: str, body: dict) -> dict:
        response = self.request("PATCH", f"{V1}/self_hosted_agent_types/{quote(name, safe='')}", json=body)
        return self.expect(self.parse_json(response), dict, "the agent type")

    def delete_agent_type(self, name: str) -> None:
        self.request("DELETE", f"{V1}/self_hosted_agent_types/{quote(name, safe='')}")

    def disable_agents(self, name: str, only_idle: bool = True) -> None:
        """Form-encoded, as the docs' example sends it; disabling twice does no harm."""
        self.request(
            "POST",
            f"{V1}/self_hosted_agent_types/{quote(name, safe='')}/disable_all",
            data={"only_idle": "true" if only_idle else "false"},
            idempotent=True,
        )

    def agents_page(
        self, agent_type: str | None = None, page_size: int = AGENTS_PAGE_SIZE, cursor: str = ""
    ) -> tuple[list[dict], str]:
        """One page of agents and the cursor of the next ("" on the last page)."""
        params: dict[str, Any] = {"page_size": page_size}
        if agent_type:
            params["agent_type"] = agent_type
        if cursor:
            params["cursor"] = cursor
        body = self.expect(self.get_json(f"{V1}/agents", params=params), dict, "the agents answer")
        agents = self.expect(body.get("agents") or [], list, "agents")
        return [obj(a) for a in agents], text(body.get("cursor"), 10_000)

    def agents(self, agent_type: str | None = None, page_size: int = AGENTS_PAGE_SIZE) -> Iterator[dict]:
        """Every agent, through all pages: a non-empty ``cursor`` means there are more."""
        cursor = ""
        for _ in range(MAX_AGENT_PAGES):
            page, cursor = self.agents_page(agent_type, page_size, cursor)
            yield from page
            if not cursor:
                return

    def agent(self, name: str) -> dict:
        return self.expect(self.get_json(f"{V1}/agents/{quote(name, safe='')}"), dict, "the agent")


# Forms ----------------------------------------------------------------------------------------
class AgentTypeForm(ActionForm):
    name = forms.CharField(
        max_length=100,
        help_text="Starts with s1-, for example s1-linux-large. Agents register under it.",
    )
    assignment_origin = forms.ChoiceField(
        label="Agent names come from",
        choices=[("agent", "the agent (it picks its own name)"), ("aws_sts", "its AWS STS identity")],
        initial="agent",
    )
    release_after = forms.IntegerField(
        min_value=0,
        initial=0,
        label="Hold a name after disconnect (seconds)",
        help_text="No other agent may register with a disconnected agent's name for this long.",
    )
    aws_account_id = forms.CharField(required=False, max_length=64, label="AWS account ID")
    aws_role_name_patterns = forms.CharField(
        required=False,
        max_length=1000,
        label="AWS role name patterns",
        help_text="Comma-separated role names; * is a wildcard. Needed with AWS STS names.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from dashboard.models import AgentType

        if isinstance(self.target, AgentType):
            settings = obj(obj(obj(self.target.raw).get("spec")).get("agent_name_settings"))
            aws = obj(settings.get("aws"))
            self.fields["name"].initial = self.target.name
            self.fields["name"].disabled = True
            self.fields["assignment_origin"].initial = short_origin(self.target.assignment_origin) or "agent"
            self.fields["release_after"].initial = self.target.release_after or 0
            self.fields["aws_account_id"].initial = text(aws.get("account_id"))
            self.fields["aws_role_name_patterns"].initial = text(aws.get("role_name_patterns"))

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name.startswith("s1-") or len(name) == 3:
            raise forms.ValidationError("Agent type names start with s1-, for example s1-linux-large.")
        return name

    def clean(self) -> dict:
        data = super().clean()
        if data.get("assignment_origin") == "aws_sts":
            for field in ("aws_account_id", "aws_role_name_patterns"):
                if not (data.get(field) or "").strip():
                    self.add_error(field, "Required when agent names come from AWS STS.")
        return data


class DisableAgentsForm(ActionForm):
    only_idle = forms.BooleanField(
        required=False,
        initial=True,
        label="Only idle agents",
        help_text="Untick to disable busy agents too: they leave once their current job is done.",
    )


def agent_type_body(params: dict) -> dict:
    settings: dict[str, Any] = {
        "assignment_origin": ORIGINS[params.get("assignment_origin") or "agent"],
        "release_after": int(params.get("release_after") or 0),
    }
    if params.get("assignment_origin") == "aws_sts":
        settings["aws"] = {
            "account_id": params["aws_account_id"].strip(),
            "role_name_patterns": params["aws_role_name_patterns"].strip(),
        }
    return {"metadata": {"name": params["name"]}, "spec": {"agent_name_settings": settings}}


# Adapter --------------------------------------------------------------------------------------
class AgentsAdapterMixin:
    """Sync and actions for agent types and agents; mixed into SemaphoreAdapter."""

    AGENTS_ACTIONS: tuple[Action, ...] = (
        Action(
            name="create_agent_type",
            label="New self-hosted agent type",
            target="connection",
            form=AgentTypeForm,
            help="Semaphore answers with a registration token for the agents; it is shown once and not stored.",
        ),
        Action(name="update_agent_type", label="Edit", target="agent_type", form=AgentTypeForm),
        Action(
            name="disable_agents",
            label="Disable agents",
            target="agent_type",
            form=DisableAgentsForm,
            help="Disabled agents take no new jobs and disconnect.",
            unavailable=lambda t: "" if t.total_agents != 0 else "No agents are connected.",
        ),
        Action(
            name="delete_agent_type",
            label="Delete",
            target="agent_type",
            destructive=True,
            help="Semaphore refuses while agents of this type are connected: disable them first.",
        ),
    )

    def agents_page_size(self) -> int:
        size = integer(self.options.get("agents_page_size"))
        return size if size and size > 0 else AGENTS_PAGE_SIZE

    def sync_agents(self, projects: list[ProjectRecord]) -> Iterator[Batch]:
        if not self.options.get("sync_agents", True):
            return
        from dashboard.models import Agent, AgentType

        batch = Batch()
        types = self.attempt(batch, "self-hosted agent types", self.client.agent_types)
        if types is not None:
            rows = [r for r in map(agent_type_row, types) if r]
            batch.rows += rows
            batch.removed += self._gone(AgentType, "agent_type", {r.external_id for r in rows})
        agents = self.attempt(
            batch, "self-hosted agents", lambda: list(self.client.agents(page_size=self.agents_page_size()))
        )
        if agents is not None:
            rows = [r for r in map(agent_row, agents) if r]
            batch.rows += rows
            batch.removed += self._gone(Agent, "agent", {r.external_id for r in rows})
        yield batch

    def _gone(self, model, label: str, listed: set[str]) -> list[tuple[str, str]]:
        stored = model.objects.filter(connection_id=self.connection.pk).values_list("external_id", flat=True)
        return [(label, external_id) for external_id in stored if external_id not in listed]

    # Actions ----------------------------------------------------------------------------------
    def do_create_agent_type(self, target: Any, params: dict, user: Any) -> ActionResult:
        created = self.client.create_agent_type(agent_type_body(params))
        token = text(obj(created.get("status")).get("registration_token"), 10_000)
        row = agent_type_row(created)
        name = row.external_id if row else params["name"]
        if not token:
            return ActionResult(
                f"Agent type {name} created, but Semaphore sent no registration token; "
                "reset it in Semaphore's settings to register agents.",
                refresh=Batch(rows=[row] if row else []),
            )
        return ActionResult(
            f"Agent type {name} created. Start its agents with the registration token below: "
            "Semaphore shows it only once and the dashboard does not keep it.",
            refresh=Batch(rows=[row] if row else []),
            once={"registration token": token},
        )

    def do_update_agent_type(self, target: Any, params: dict, user: Any) -> ActionResult:
        body = agent_type_body({**params, "name": target.name})
        row = agent_type_row(self.client.update_agent_type(target.name, body))
        origin = "the agent" if params.get("assignment_origin") != "aws_sts" else "AWS STS"
        return ActionResult(
            f"Agent type {target.name} saved: names come from {origin}, held {params.get('release_after') or 0}s "
            "after disconnect.",
            refresh=Batch(rows=[row] if row else []),
        )

    def do_delete_agent_type(self, target: Any, params: dict, user: Any) -> ActionResult:
        from dashboard.models import Agent

        self.client.delete_agent_type(target.name)
        agents = Agent.objects.filter(connection_id=self.connection.pk, agent_type=target)
        removed = [("agent", name) for name in agents.values_list("external_id", flat=True)]
        return ActionResult(
            f"Agent type {target.name} deleted.", refresh=Batch(removed=[*removed, ("agent_type", target.external_id)])
        )

    def do_disable_agents(self, target: Any, params: dict, user: Any) -> ActionResult:
        only_idle = bool(params.get("only_idle"))
        self.client.disable_agents(target.name, only_idle=only_idle)
        refresh = Batch()
        try:
            agents = list(self.client.agents(agent_type=target.name, page_size=self.agents_page_size()))
            refresh.rows += [r for r in map(agent_row, agents) if r]
            row = agent_type_row(self.client.agent_type(target.name))
            refresh.rows += [row] if row else []
        except ProviderError:  # the action is done; the next sync shows the result
            agents, refresh = [], None
        disabled = sum(1 for a in agents if obj(obj(a).get("metadata")).get("disabled_at"))
        which = "Idle agents" if only_idle else "All agents"
        counted = f" {disabled} of {len(agents)} agent(s) are now disabled and will disconnect." if refresh else ""
        return ActionResult(f"{which} of {target.name} are being disabled.{counted}", refresh=refresh)


# Panel ----------------------------------------------------------------------------------------
def connection_panel_context(adapter: Any, connection: Connection, request: HttpRequest | None) -> dict:
    """Context for ``templates/providers/semaphore/connection_panel.html``: the synced agent
    types with their agents, and a short list of deployment targets and retention policies
    (their detail is on each project's page)."""
    from dashboard.models import Agent, AgentType, DeploymentTarget, RetentionPolicy

    agents: dict[int | None, list] = {}
    for agent in Agent.objects.filter(connection=connection).order_by("name"):
        agents.setdefault(agent.agent_type_id, []).append(agent)
    types = [
        {"type": t, "origin": short_origin(t.assignment_origin), "agents": agents.get(t.pk, [])}
        for t in AgentType.objects.filter(connection=connection).order_by("name")
    ]
    return {
        "panel": {
            "agent_types": types,
            "orphan_agents": agents.get(None, []),
            "targets": DeploymentTarget.objects.filter(connection=connection)
            .select_related("project")
            .order_by("project__name", "name"),
            "policies": [
                {"policy": p, "count": sum(len(items(v)) for v in obj(p.rules).values())}
                for p in RetentionPolicy.objects.filter(connection=connection).select_related("project")
            ],
        }
    }


__all__ = [
    "AgentTypeForm",
    "AgentsAdapterMixin",
    "AgentsClientMixin",
    "DisableAgentsForm",
    "agent_row",
    "agent_type_row",
    "connection_panel_context",
]
