"""The simulated Semaphore's self-hosted agent types and agents (docs/providers/
semaphore.md, "Self-hosted agents"); mixed into SemaphoreSimulator.

Shapes follow Semaphore's public API formatter: unix-second integers (agent types always
carry both times), ``aws`` null unless set, ``disabled_at`` only on disabled agents, the
registration token only in the create answer, agents paged by an opaque body ``cursor``
(``""`` on the last page, default page size 200). Checks and their words follow
Semaphore's self-hosted hub: names match ``^s1-[a-zA-Z0-9-_]+$``, ``release_after`` is 0
or at least 60, an unknown type or agent is a JSON string ("agent type not found").

Agents alternate between ``waiting_for_job`` and ``running_job`` on a fixed rhythm of the
clock. Disabling (``disable_all``, ``only_idle`` true by default) stamps ``disabled_at``;
the agent then leaves: an idle one ``LEAVE_AFTER`` seconds later, a busy one once its job
is over.

Assumptions where the docs are silent:
- an unknown ``agent_type`` filter lists no agents; a malformed ``cursor`` is refused.
- ``agents_denied = True`` makes every endpoint answer 401 ``Permission denied`` (a token
  that may see the organisation but not its agents)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from .http import json_string, request_body, text

V1 = "/api/v1alpha"
ORIGINS = ("assignment_origin_agent", "assignment_origin_aws_sts")
LEAVE_AFTER = 5.0
NAME = re.compile(r"^s1-[a-zA-Z0-9-_]+$")
MIN_RELEASE_AFTER = 60
DEFAULT_PAGE_SIZE = 200
# name, assignment origin, release_after, aws settings, agents at start
SEEDED_TYPES = (
    ("s1-linux-small", "assignment_origin_agent", 0, None, 5),
    (
        "s1-linux-large",
        "assignment_origin_aws_sts",
        60,
        {"account_id": "123456789012", "role_name_patterns": "ci-*"},
        3,
    ),
    ("s1-macos", "assignment_origin_agent", 0, None, 0),
)


def unix(ts: float | None) -> int | str:
    return int(ts) if ts else ""


@dataclass
class SimAgentType:
    name: str
    origin: str
    release_after: int
    aws: dict | None
    created: float
    updated: float
    token: str = field(repr=False, default="")


@dataclass
class SimAgent:
    name: str
    type_name: str
    hostname: str
    ip: str
    pid: int
    connected_at: float
    period: float  # one job every ``period`` seconds, each ``busy`` seconds long
    busy: float
    version: str = "v2.2.6"
    os: str = "Ubuntu 20.04.6 LTS"
    arch: str = "x86_64"
    disabled_at: float | None = None
    leaves_at: float | None = None

    def phase(self, t: float) -> float:
        return (t - self.connected_at) % self.period

    def running(self, t: float) -> bool:
        return self.phase(t) < self.busy

    def job_end(self, t: float) -> float:
        return t + (self.busy - self.phase(t)) if self.running(t) else t


class AgentsSimMixin:
    def init_agents(self) -> None:
        """Seed this area's state (called once from the simulator's constructor)."""
        self.agent_types: dict[str, SimAgentType] = {}
        self.sh_agents: dict[str, SimAgent] = {}
        self.agents_denied = False
        for n, (name, origin, release_after, aws, count) in enumerate(SEEDED_TYPES):
            created = self.start - 86400 * (30 - n)
            updated = created if name == "s1-macos" else created + 3600
            self.agent_types[name] = SimAgentType(
                name, origin, release_after, dict(aws) if aws else None, created, updated, self.sh_token(name, created)
            )
            for k in range(count):
                self.add_agent(name, k)

    def add_agent(self, type_name: str, k: int) -> SimAgent:
        rng = self.rng("agent", type_name, k)
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        agent = SimAgent(
            name="".join(rng.choice(alphabet) for _ in range(20)),
            type_name=type_name,
            hostname=f"{type_name.removeprefix('s1-')}-{k + 1}",
            ip=f"10.20.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            pid=rng.randint(100, 60000),
            connected_at=self.start - rng.uniform(600, 86400),
            period=rng.uniform(60, 240),
            busy=rng.uniform(10, 50),
        )
        self.sh_agents[agent.name] = agent
        return agent

    def sh_token(self, name: str, at: float) -> str:
        return f"{self.rng('registration', name, at).getrandbits(256):064x}"

    def agents_routes(self) -> list[Rule]:
        return [
            Rule(f"{V1}/self_hosted_agent_types", endpoint="sh_list_types", methods=["GET"]),
            Rule(f"{V1}/self_hosted_agent_types", endpoint="sh_create_type", methods=["POST"]),
            Rule(f"{V1}/self_hosted_agent_types/<name>", endpoint="sh_describe_type", methods=["GET"]),
            Rule(f"{V1}/self_hosted_agent_types/<name>", endpoint="sh_update_type", methods=["PATCH"]),
            Rule(f"{V1}/self_hosted_agent_types/<name>", endpoint="sh_delete_type", methods=["DELETE"]),
            Rule(f"{V1}/self_hosted_agent_types/<name>/disable_all", endpoint="sh_disable_all", methods=["POST"]),
            Rule(f"{V1}/agents", endpoint="sh_list_agents", methods=["GET"]),
            Rule(f"{V1}/agents/<name>", endpoint="sh_describe_agent", methods=["GET"]),
        ]

    # State ---------------------------------------------------------------------------------
    def connected_agents(self, type_name: str | None = None) -> list[SimAgent]:
        """Agents still connected now (disabled ones leave when their time comes)."""
        t = self.now()
        for name in [n for n, a in self.sh_agents.items() if a.leaves_at is not None and a.leaves_at <= t]:
            del self.sh_agents[name]
        agents = sorted(self.sh_agents.values(), key=lambda a: a.name)
        return [a for a in agents if type_name is None or a.type_name == type_name]

    def sh_type_json(self, agent_type: SimAgentType, token: str | None = None) -> dict:
        status: dict = {"total_agent_count": len(self.connected_agents(agent_type.name))}
        if token is not None:
            status["registration_token"] = token
        return {
            "metadata": {
                "name": agent_type.name,
                "create_time": unix(agent_type.created),
                "update_time": unix(agent_type.updated),
            },
            "spec": {
                "agent_name_settings": {
                    "assignment_origin": agent_type.origin,
                    "release_after": agent_type.release_after,
                    "aws": dict(agent_type.aws) if agent_type.aws else None,
                }
            },
            "status": status,
        }

    def sh_agent_json(self, agent: SimAgent) -> dict:
        meta = {
            "version": agent.version,
            "type": agent.type_name,
            "pid": agent.pid,
            "os": agent.os,
            "name": agent.name,
            "ip_address": agent.ip,
            "hostname": agent.hostname,
            "connected_at": unix(agent.connected_at),
            "arch": agent.arch,
        }
        if agent.disabled_at is not None:
            meta["disabled_at"] = unix(agent.disabled_at)
        state = "running_job" if agent.running(self.now()) else "waiting_for_job"
        return {"status": {"state": self.odd_enum(state, "something_new")}, "metadata": meta}

    def sh_settings(self, body: dict, current: SimAgentType | None) -> tuple[str, int, dict | None] | Response:
        """The agent name settings of a create/update body, or the refusal."""
        settings = (body.get("spec") or {}).get("agent_name_settings") if isinstance(body.get("spec"), dict) else None
        if settings is None and current is not None:
            return current.origin, current.release_after, current.aws
        settings = settings if isinstance(settings, dict) else {}
        origin = settings.get("assignment_origin", "assignment_origin_agent")
        if origin not in ORIGINS:
            return json_string("assignment origin not supported")
        release_after = settings.get("release_after", 0)
        if isinstance(release_after, bool) or not isinstance(release_after, int):
            return json_string("release_after must be a whole number of seconds")
        if release_after < 0:
            return json_string(f"name release hold must be 0 or greater than {MIN_RELEASE_AFTER}")
        if 0 < release_after < MIN_RELEASE_AFTER:
            return json_string(f"name release hold must be greater than {MIN_RELEASE_AFTER}")
        aws = settings.get("aws") if isinstance(settings.get("aws"), dict) else None
        if origin == "assignment_origin_agent" and aws and str(aws.get("account_id") or ""):
            return json_string("AWS account ID is not allowed for ASSIGNMENT_ORIGIN_AGENT")
        if origin == "assignment_origin_agent" and aws and str(aws.get("role_name_patterns") or ""):
            return json_string("AWS role name patterns are not allowed for ASSIGNMENT_ORIGIN_AGENT")
        if origin == "assignment_origin_aws_sts":
            if aws is None:
                return json_string("AWS information missing")
            if not str(aws.get("account_id") or "").strip():
                return json_string("AWS account cannot be empty")
            if not str(aws.get("role_name_patterns") or "").strip():
                return json_string("AWS role name patterns cannot be empty")
        if aws:
            aws = {
                "account_id": str(aws.get("account_id") or ""),
                "role_name_patterns": str(aws.get("role_name_patterns") or ""),
            }
        return origin, release_after, aws

    # Agent types ---------------------------------------------------------------------------
    def sh_list_types(self, request: Request) -> Response:
        if self.agents_denied:
            return text("Permission denied", 401)
        types = sorted(self.agent_types.values(), key=lambda a: a.name)
        return self.json(self.listing({"agent_types": [self.sh_type_json(a) for a in types]}, "agent_types"))

    def sh_create_type(self, request: Request) -> Response:
        if self.agents_denied:
            return text("Permission denied", 401)
        body = request_body(request)
        name = (body.get("metadata") or {}).get("name") if isinstance(body.get("metadata"), dict) else None
        if not name:
            return json_string("Name must be provided")
        if not isinstance(name, str) or not NAME.match(name.strip(" ")):
            return json_string(f"The agent type name '{name}' is invalid: must follow the pattern {NAME.pattern}")
        name = name.strip(" ")
        if name in self.agent_types:
            return json_string("agent type name must by unique in the organization")
        settings = self.sh_settings(body, None)
        if isinstance(settings, Response):
            return settings
        t = self.now()
        agent_type = SimAgentType(name, *settings, created=t, updated=t, token=self.sh_token(name, t))
        self.agent_types[name] = agent_type
        return self.json(self.sh_type_json(agent_type, token=agent_type.token))

    def sh_describe_type(self, request: Request, name: str) -> Response:
        if self.agents_denied:
            return text("Permission denied", 401)
        agent_type = self.agent_types.get(name)
        if agent_type is None or self.detail_missing():
            return json_string("agent type not found", 404)
        return self.json(self.sh_type_json(agent_type))

    def sh_update_type(self, request: Request, name: str) -> Response:
        if self.agents_denied:
            return text("Permission denied", 401)
        agent_type = self.agent_types.get(name)
        if agent_type is None:
            return json_string("agent type not found", 404)
        body = request_body(request)
        if not isinstance(body.get("metadata"), dict) or not body["metadata"].get("name"):
            return json_string("Name must be provided")
        settings = self.sh_settings(body, agent_type)
        if isinstance(settings, Response):
            return settings
        agent_type.origin, agent_type.release_after, agent_type.aws = settings
        agent_type.updated = self.now()
        return self.json(self.sh_type_json(agent_type))

    def sh_delete_type(self, request: Request, name: str) -> Response:
        if self.agents_denied:
            return text("Permission denied", 401)
        if name not in self.agent_types:
            return json_string("agent type not found", 404)
        if self.connected_agents(name):
            return json_string("can't delete agent type with existing agents")
        del self.agent_types[name]
        return self.json({})

    def sh_disable_all(self, request: Request, name: str) -> Response:
        if self.agents_denied:
            return text("Permission denied", 401)
        if name not in self.agent_types:
            return json_string("agent type not found", 404)
        value = request_body(request).get("only_idle", True)
        if value in (True, "true"):
            only_idle = True
        elif value in (False, "false"):
            only_idle = False
        else:
            return json_string(f"Invalid 'only_idle': '{value}' is not a boolean.")
        t = self.now()
        for agent in self.connected_agents(name):
            if agent.disabled_at is not None or (only_idle and agent.running(t)):
                continue
            agent.disabled_at = t
            agent.leaves_at = agent.job_end(t) + LEAVE_AFTER
        return self.json({})

    # Agents --------------------------------------------------------------------------------
    def sh_list_agents(self, request: Request) -> Response:
        if self.agents_denied:
            return text("Permission denied", 401)
        raw_size = request.args.get("page_size", "")
        try:
            size = int(raw_size) if raw_size != "" else DEFAULT_PAGE_SIZE
        except ValueError:
            return json_string(f"Invalid value of 'page_size' param: {json.dumps(raw_size)} - needs to be integer.")
        size = size if size > 0 else DEFAULT_PAGE_SIZE
        agents = self.connected_agents(request.args.get("agent_type") or None)
        cursor = request.args.get("cursor", "")
        if cursor:
            try:
                start_name = base64.urlsafe_b64decode(cursor.encode()).decode()
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return json_string("Invalid cursor")
            position = next((i for i, a in enumerate(agents) if a.name >= start_name), len(agents))
            if position >= size and self.page_repeats():
                position -= size
            agents = agents[position:]
        page, rest = agents[:size], agents[size:]
        if rest:
            next_cursor = base64.urlsafe_b64encode(rest[0].name.encode()).decode()
        elif self.pages_endless():
            next_cursor = base64.urlsafe_b64encode(b"~" + (page[-1].name.encode() if page else b"")).decode()
        else:
            next_cursor = ""
        body = {"agents": [self.sh_agent_json(a) for a in page], "cursor": next_cursor}
        return self.json(self.listing(body, "agents"))

    def sh_describe_agent(self, request: Request, name: str) -> Response:
        if self.agents_denied:
            return text("Permission denied", 401)
        self.connected_agents()
        agent = self.sh_agents.get(name)
        if agent is None or self.detail_missing():
            return json_string("agent not found", 404)
        return self.json(self.sh_agent_json(agent))


__all__ = ["AgentsSimMixin", "SimAgent", "SimAgentType"]
