"""Buttons on self-hosted agent types (docs/providers/semaphore.md, "Self-hosted
agents"): create (the registration token is shown once and kept nowhere), edit, disable
agents, delete."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from providers.base.actions import ActionSet
from providers.base.errors import ProviderError
from providers.base.forms import ActionForm
from providers.base.parse import obj, text
from providers.base.records import ActionResult, Batch

from ..mapping.agents import agent_row, agent_type_row, short_origin

actions = ActionSet()
ORIGINS = {"agent": "assignment_origin_agent", "aws_sts": "assignment_origin_aws_sts"}
NAME = re.compile(r"^s1-[a-zA-Z0-9-_]+$")
MIN_RELEASE_AFTER = 60


class AgentTypeForm(ActionForm):
    name = forms.CharField(
        max_length=100,
        help_text="s1- then letters, digits, - or _, for example s1-linux-large. Agents register under it.",
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
        help_text="0, or 60 and more: no other agent may register with a disconnected agent's name for this long.",
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
        raw = getattr(self.target, "raw", None)
        if hasattr(self.target, "assignment_origin") and isinstance(raw, dict):  # editing an agent type
            settings = obj(obj(raw.get("spec")).get("agent_name_settings"))
            aws = obj(settings.get("aws"))
            self.fields["name"].initial = self.target.name
            self.fields["name"].disabled = True
            self.fields["assignment_origin"].initial = short_origin(self.target.assignment_origin) or "agent"
            self.fields["release_after"].initial = self.target.release_after or 0
            self.fields["aws_account_id"].initial = text(aws.get("account_id"))
            self.fields["aws_role_name_patterns"].initial = text(aws.get("role_name_patterns"))

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not NAME.match(name):
            raise forms.ValidationError(
                "Agent type names are s1- then letters, digits, - or _ (for example s1-linux-large)."
            )
        return name

    def clean_release_after(self) -> int:
        value = self.cleaned_data["release_after"]
        if 0 < value < MIN_RELEASE_AFTER:
            raise forms.ValidationError(f"Use 0 (no hold) or at least {MIN_RELEASE_AFTER} seconds.")
        return value

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


@actions(
    "create_agent_type",
    label="New self-hosted agent type",
    target="connection",
    form=AgentTypeForm,
    help="Semaphore answers with a registration token for the agents; it is shown once and not stored.",
)
def create_agent_type(adapter, connection, params: dict, user) -> ActionResult:
    created = adapter.client.create_agent_type(agent_type_body(params))
    token = text(obj(created.get("status")).get("registration_token"), 10_000)
    row = agent_type_row(created)
    name = row.external_id if row else params["name"]
    refresh = Batch(rows=[row] if row else [])
    if not token:
        return ActionResult(
            f"Agent type {name} created, but Semaphore sent no registration token; "
            "reset it in Semaphore's settings to register agents.",
            refresh=refresh,
        )
    return ActionResult(
        f"Agent type {name} created. Start its agents with the registration token below: "
        "Semaphore shows it only once and the dashboard does not keep it.",
        refresh=refresh,
        once={"registration token": token},
    )


@actions("update_agent_type", label="Edit", target="agent_type", form=AgentTypeForm)
def update_agent_type(adapter, agent_type, params: dict, user) -> ActionResult:
    body = agent_type_body({**params, "name": agent_type.name})
    row = agent_type_row(adapter.client.update_agent_type(agent_type.name, body))
    origin = "the agent" if params.get("assignment_origin") != "aws_sts" else "AWS STS"
    return ActionResult(
        f"Agent type {agent_type.name} saved: names come from {origin}, held {params.get('release_after') or 0}s "
        "after disconnect.",
        refresh=Batch(rows=[row] if row else []),
    )


@actions(
    "disable_agents",
    label="Disable agents",
    target="agent_type",
    form=DisableAgentsForm,
    help="Disabled agents take no new jobs and disconnect.",
    unavailable=lambda t: "" if t.total_agents != 0 else "No agents are connected.",
)
def disable_agents(adapter, agent_type, params: dict, user) -> ActionResult:
    only_idle = bool(params.get("only_idle"))
    adapter.client.disable_agents(agent_type.name, only_idle=only_idle)
    refresh: Batch | None = Batch()
    try:
        agents = adapter.client.agents(agent_type=agent_type.name)
        refresh.rows += [r for r in map(agent_row, agents) if r]
        row = agent_type_row(adapter.client.agent_type(agent_type.name))
        refresh.rows += [row] if row else []
    except ProviderError:  # the action is done; the next sync shows the result
        agents, refresh = [], None
    disabled = sum(1 for a in agents if obj(obj(a).get("metadata")).get("disabled_at"))
    which = "Idle agents" if only_idle else "All agents"
    counted = f" {disabled} of {len(agents)} agent(s) are now disabled and will disconnect." if refresh else ""
    return ActionResult(f"{which} of {agent_type.name} are being disabled.{counted}", refresh=refresh)


@actions(
    "delete_agent_type",
    label="Delete",
    target="agent_type",
    destructive=True,
    help="Semaphore refuses while agents of this type are connected: disable them first.",
)
def delete_agent_type(adapter, agent_type, params: dict, user) -> ActionResult:
    adapter.client.delete_agent_type(agent_type.name)
    agents = [("agent", name) for name in agent_type.agent_set.values_list("external_id", flat=True)]
    return ActionResult(
        f"Agent type {agent_type.name} deleted.",
        refresh=Batch(removed=[*agents, ("agent_type", agent_type.external_id)]),
    )
