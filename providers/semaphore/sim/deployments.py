"""The simulated Semaphore's deployment targets and their history (docs/providers/
semaphore.md, "Deployment targets"); mixed into SemaphoreSimulator.

Shapes and checks follow Semaphore's public API: targets as bare JSON with ISO
timestamps (``"2023-06-08T07:48:27.000000Z"``, ``""`` when zero), ``active`` = not
cordoned, ``unique_token`` UUIDs making create/update/delete idempotent, handler errors
and an unknown target as JSON strings, ``Project not found``/``Permission denied`` as
plain text. An update changes only the fields it sends. ``include_secrets=true`` adds the
env vars and files with hidden values (an MD5 of each); an update that sends such a
value back keeps the old one. USER subject rules given by ``git_login`` are resolved to
the member's id (an unknown login is refused) and answered with the login alongside.
History pages hold at most 10 deployments, newest first; ``parameter1..3`` filter on the
values of the target's bookmark parameters (a regular expression, a ``*`` pattern or an
exact value).

Every project starts with the targets "Production" and "Staging" (the names of the
core simulator's promotions, so promoting adds to their history through
``record_deployment``) and a history of seeded deployments that point at the project's
seeded pipelines, so synced deployments link to builds.

Assumptions where the docs are silent:
- a created or updated target is ``SYNCING`` for ``SYNC_SECONDS``, then ``USABLE``; a
  deactivated (cordoned) one is ``CORDONED``; a deployment is ``PENDING`` for
  ``START_SECONDS``, then ``STARTED`` (or ``FAILED`` with a message);
- history cursors are ``triggered_at`` in unix microseconds: ``FIRST`` = the 10 newest,
  ``BEFORE v`` = the 10 newest older than v, ``AFTER v`` = the 10 oldest newer than v;
  ``cursor_before`` is the oldest shown when older ones exist, ``cursor_after`` the
  newest shown when newer ones exist, else 0; filters apply before paging;
- a target name is unique within its project; a promotion to a deactivated target is
  recorded as ``FAILED``;
- ``denied_projects`` holds project ids whose targets answer 401 ``Permission denied``."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import uuid
from datetime import UTC, datetime, timedelta

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from .http import json_string, request_body, text

V1 = "/api/v1alpha"
PAGE = 10
SYNC_SECONDS = 3.0
START_SECONDS = 2.0
AUTO = "Pipeline Done request"
SUBJECT_TYPES = ("USER", "ROLE", "GROUP", "AUTO", "ANY")
OBJECT_TYPES = ("BRANCH", "TAG", "PR")
MATCH_MODES = ("ALL", "EXACT", "REGEX")
CURSOR_TYPES = ("FIRST", "AFTER", "BEFORE")
# name, seeded history length, url
SEEDED_TARGETS = (("Production", 23, "https://acme.example.com"), ("Staging", 7, "https://staging.acme.example.com"))
EDITABLE = ("description", "url", "bookmark_parameter1", "bookmark_parameter2", "bookmark_parameter3")
# Members of the organisation, by git login (resolving USER subject rules).
MEMBERS = ("alice", "bob", "semaphore-api")
REGEX_CHARS = re.compile(r"[\.\+\?\[\]\{\}\|\\]")


def hidden(value: str) -> str:
    """How Semaphore shows a secret value it will not give back: its MD5, hex."""
    return hashlib.md5(value.encode(), usedforsecurity=False).hexdigest()


def pattern_matches(pattern: str, value: str) -> bool:
    """History's parameter filters: a regular expression (whole value), else a ``*``
    pattern, else the exact value."""
    if REGEX_CHARS.search(pattern):
        try:
            return re.fullmatch(pattern, value) is not None
        except re.error:
            pass
    if "*" in pattern or "%" in pattern:
        like = "".join(".*" if c in "*%" else re.escape(c) for c in pattern)
        return re.fullmatch(like, value, re.DOTALL) is not None
    return pattern == value


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return isinstance(value, str)


def iso(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if ts else ""


def iso_us(us: int) -> str:
    return (_EPOCH + timedelta(microseconds=us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_object_rules() -> list[dict]:
    return [{"type": kind, "pattern": "", "match_mode": "ALL"} for kind in OBJECT_TYPES]


class DeploymentsSimMixin:
    def init_deployments(self) -> None:
        """Seed this area's state (called once from the simulator's constructor)."""
        self.targets: dict[str, dict] = {}
        self.dt_history: dict[str, list[dict]] = {}  # target id -> deployments, oldest first
        self.dt_tokens: dict[str, tuple[str, str]] = {}  # unique_token -> (operation, target id)
        self.denied_projects: set[str] = set()
        self.members = {login: self.uuid("user", login) for login in MEMBERS}
        self.dt_users = [self.members["alice"], self.members["bob"]]
        for project in self.projects.values():
            for name, count, url in SEEDED_TARGETS:
                fields = {"name": name, "url": url, "description": f"{name} of {project.name}"}
                if name == "Production":
                    fields["bookmark_parameter1"] = "MESSAGE"
                    fields["subject_rules"] = [
                        {"type": "USER", "subject_id": self.members["alice"]},
                        {"type": "USER", "subject_id": self.members["bob"]},
                        {"type": "AUTO", "subject_id": ""},
                    ]
                target = self.new_target(
                    project.id,
                    fields,
                    at=self.start - 86400 * 20,
                    key=("seeded", project.index, name),
                    by=self.dt_users[0],
                )
                target["_usable_at"] = target["_created"]
                self.seed_history(target, count)

    def deployments_routes(self) -> list[Rule]:
        return [
            Rule(f"{V1}/deployment_targets", endpoint="dt_list", methods=["GET"]),
            Rule(f"{V1}/deployment_targets", endpoint="dt_create", methods=["POST"]),
            Rule(f"{V1}/deployment_targets/<target_id>", endpoint="dt_describe", methods=["GET"]),
            Rule(f"{V1}/deployment_targets/<target_id>", endpoint="dt_update", methods=["PATCH"]),
            Rule(f"{V1}/deployment_targets/<target_id>", endpoint="dt_delete", methods=["DELETE"]),
            Rule(f"{V1}/deployment_targets/<target_id>/activate", endpoint="dt_activate", methods=["PATCH"]),
            Rule(f"{V1}/deployment_targets/<target_id>/deactivate", endpoint="dt_deactivate", methods=["PATCH"]),
            Rule(f"{V1}/deployment_targets/<target_id>/history", endpoint="dt_history_page", methods=["GET"]),
        ]

    # State ---------------------------------------------------------------------------------
    def new_target(self, project_id: str, fields: dict, *, at: float, key: tuple, by: str) -> dict:
        target = {
            "id": self.uuid("target", *key),
            "name": fields["name"],
            "project_id": project_id,
            "organization_id": self.uuid("org"),
            "created_by": by,
            "updated_by": by,
            "subject_rules": [{"type": "ANY", "subject_id": ""}],
            "object_rules": default_object_rules(),
            "state_message": "",
            **{name: "" for name in EDITABLE},
            "_created": at,
            "_updated": at,
            "_usable_at": at + SYNC_SECONDS,
            "_cordoned": False,
            "_env_vars": [],
            "_files": {},
        }
        self.apply_target_fields(target, fields)
        self.targets[target["id"]] = target
        self.dt_history[target["id"]] = []
        return target

    def apply_target_fields(self, target: dict, fields: dict) -> None:
        for name in ("name", *EDITABLE):
            if fields.get(name) is not None:
                target[name] = str(fields[name])
        if fields.get("subject_rules") is not None:
            target["subject_rules"] = [
                {"type": str(r["type"]).upper(), "subject_id": str(r.get("subject_id") or "")}
                for r in fields["subject_rules"]
            ]
        if fields.get("object_rules") is not None:
            target["object_rules"] = [
                {
                    "type": str(r["type"]).upper(),
                    "pattern": str(r.get("pattern") or ""),
                    "match_mode": str(r["match_mode"]).upper(),
                }
                for r in fields["object_rules"]
            ]
        if fields.get("env_vars") is not None:
            old = {e["name"]: e["value"] for e in target["_env_vars"]}
            values = {str(e.get("name")): str(e.get("value", "")) for e in fields["env_vars"]}
            target["_env_vars"] = [
                {"name": name, "value": old[name] if name in old and value.lower() == hidden(old[name]) else value}
                for name, value in values.items()
            ]
        if fields.get("files") is not None:
            old_files = dict(target["_files"])
            sent = {str(f.get("path")): str(f.get("content", "")) for f in fields["files"]}
            target["_files"] = {
                path: old_files[path] if path in old_files and content.lower() == hidden(old_files[path]) else content
                for path, content in sent.items()
            }

    def resolve_subject_rules(self, rules, project_id: str) -> list[dict] | Response | None:
        """USER rules by ``git_login`` become the member's id; an unknown login or a user
        who is not a member is refused, in Semaphore's words."""
        if rules is None:
            return None
        by_id = {user_id: login for login, user_id in self.members.items()}
        resolved = []
        for rule in rules:
            rule = dict(rule)
            if str(rule.get("type") or "").upper() == "USER":
                if not rule.get("subject_id"):
                    login = str(rule.get("git_login") or "")
                    if login not in self.members:
                        return json_string(f"handle {login} can't be used as subject id")
                    rule["subject_id"] = self.members[login]
                elif str(rule["subject_id"]).lower() not in by_id:
                    return json_string(
                        f"user {str(rule['subject_id'])!r} can't be added to subject rules for project "
                        f"{project_id!r} and organization {self.uuid('org')!r}".replace("'", '"')
                    )
            resolved.append(rule)
        return resolved

    def seed_history(self, target: dict, count: int) -> None:
        ppls = sorted(
            (p for p in self.pipelines.values() if p.project_id == target["project_id"]), key=lambda p: p.created
        )
        if not ppls:
            return
        spacing = 1370.0
        for k in range(count):
            rng = self.rng("deploy", target["id"], k)
            at = self.start - (count - k) * spacing + rng.uniform(0, 600)
            earlier = [p for p in ppls if p.created <= at] or ppls[:1]
            ppl = earlier[-1]
            roll = rng.random()
            ref = ("branch", ppl.branch) if roll < 0.7 else ("tag", f"v1.{k}.0") if roll < 0.9 else ("pr", str(100 + k))
            failed = rng.random() < 0.12
            self.add_deployment(
                target,
                pipeline_id=ppl.id,
                prev_pipeline_id=earlier[-2].id if len(earlier) > 1 else "",
                triggered_by=rng.choice([*self.dt_users, AUTO]),
                env_vars=[{"name": "MESSAGE", "value": f"release {k + 1}"}],
                us=int(at) * 1_000_000 + rng.randint(0, 999_999),
                ref=ref,
                failed="Promotion pipeline could not be scheduled" if failed else "",
            )

    def add_deployment(
        self,
        target: dict,
        *,
        pipeline_id: str,
        prev_pipeline_id: str,
        triggered_by: str,
        env_vars: list[dict],
        us: int,
        ref: tuple[str, str],
        failed: str = "",
    ) -> dict:
        history = self.dt_history[target["id"]]
        if history and us <= history[-1]["us"]:
            us = history[-1]["us"] + 1  # triggered_at is a cursor: keep it strictly increasing
        deployment = {
            "id": self.uuid("deployment", target["id"], len(history), us),
            "target_id": target["id"],
            "us": us,
            "pipeline_id": pipeline_id,
            "prev_pipeline_id": prev_pipeline_id,
            "triggered_by": triggered_by,
            "env_vars": [dict(e) for e in env_vars],
            "switch_id": self.uuid("switch", pipeline_id),
            "ref_type": ref[0],
            "ref_label": ref[1],
            "failed": failed,
            # The values of the target's bookmark parameters at the time, for filtering.
            "params": [
                next(
                    (
                        str(e.get("value", ""))
                        for e in env_vars
                        if e.get("name") == target.get(f"bookmark_parameter{n}")
                    ),
                    "",
                )
                if target.get(f"bookmark_parameter{n}")
                else ""
                for n in (1, 2, 3)
            ],
        }
        history.append(deployment)
        return deployment

    def record_deployment(
        self, target_id: str, pipeline_id: str, triggered_by: str, env_vars: list[dict]
    ) -> dict | None:
        """A promotion reached this target (called by the core simulator when promoting)."""
        target = self.targets.get(target_id)
        if target is None:
            return None
        ppl = self.pipelines.get(pipeline_id)
        return self.add_deployment(
            target,
            pipeline_id=pipeline_id,
            prev_pipeline_id=getattr(ppl, "promotion_of", "") or "",
            triggered_by=triggered_by,
            env_vars=env_vars,
            us=int(self.now() * 1_000_000),
            ref=("branch", getattr(ppl, "branch", "") or ""),
            failed="Deployment target is deactivated" if target["_cordoned"] else "",
        )

    # Serialisers ---------------------------------------------------------------------------
    def dt_deployment_json(self, d: dict) -> dict:
        if d["failed"]:
            state = "FAILED"
        else:
            state = "PENDING" if self.now() * 1_000_000 < d["us"] + START_SECONDS * 1_000_000 else "STARTED"
        target = self.targets.get(d["target_id"], {})
        return {
            "triggered_by": d["triggered_by"],
            "triggered_at": iso_us(d["us"]),
            "target_name": target.get("name", ""),
            "target_id": d["target_id"],
            "switch_id": d["switch_id"],
            "state_message": d["failed"],
            "state": self.odd_enum(state),
            "prev_pipeline_id": d["prev_pipeline_id"],
            "pipeline_id": d["pipeline_id"],
            "id": d["id"],
            "env_vars": [dict(e) for e in d["env_vars"]],
            "can_requester_rerun": True,
        }

    def dt_json(self, target: dict, *, secrets: bool = False) -> dict:
        syncing = self.now() < target["_usable_at"]
        state = "CORDONED" if target["_cordoned"] else "SYNCING" if syncing else "USABLE"
        history = self.dt_history.get(target["id"]) or []
        body = {k: v for k, v in target.items() if not k.startswith("_")}
        body.update(
            created_at=iso(target["_created"]),
            updated_at=iso(target["_updated"]),
            state=self.odd_enum(state),
            last_deployment=self.dt_deployment_json(history[-1]) if history else None,
            active=not target["_cordoned"],
            subject_rules=[self.subject_rule_json(r) for r in target["subject_rules"]],
            object_rules=[dict(r) for r in target["object_rules"]],
        )
        if secrets:
            body["env_vars"] = [{"name": e["name"], "value": hidden(e["value"])} for e in target["_env_vars"]]
            body["files"] = [{"path": path, "content": hidden(content)} for path, content in target["_files"].items()]
        return body

    def subject_rule_json(self, rule: dict) -> dict:
        """USER rules carry the member's git login alongside their id."""
        body = dict(rule)
        if rule["type"] == "USER":
            login = {user_id: login for login, user_id in self.members.items()}.get(rule["subject_id"])
            if login:
                body["git_login"] = login
        return body

    # Access --------------------------------------------------------------------------------
    def project_refusal(self, project_id: str | None) -> Response | None:
        """Deployment targets' (and artifacts') authorization answers, in plain text."""
        if not project_id:
            return text("Project not found", 404)
        if not is_uuid(project_id):
            return json_string("project id must be a valid UUID")
        if project_id not in self.projects:
            return text("Not found", 404)
        if project_id in getattr(self, "denied_projects", ()):
            return text("Permission denied", 401)
        return None

    def dt_find(self, target_id: str) -> dict | Response:
        if not is_uuid(target_id):
            return json_string("target_id must be a valid UUID")
        target = self.targets.get(target_id)
        if target is None:
            return json_string("Not found", 404)
        return self.project_refusal(target["project_id"]) or target

    def dt_check_fields(self, params: dict, creating: bool) -> Response | None:
        name = params.get("name")
        if (creating or name is not None) and not (isinstance(name, str) and 1 <= len(name) <= 255):
            return json_string("name must be string with length between 1 and 255")
        subjects = params.get("subject_rules")
        if subjects is not None:
            if not isinstance(subjects, list) or not all(isinstance(r, dict) for r in subjects):
                return json_string("invalid subject rule")
            for rule in subjects:
                kind = str(rule.get("type") or "").upper()
                if kind not in SUBJECT_TYPES:
                    return json_string("invalid subject rule")
                if kind == "USER" and not (rule.get("subject_id") or rule.get("git_login")):
                    return json_string("subject_id or git_login must be provided for USER type subject rule")
                if kind in ("ROLE", "GROUP") and not rule.get("subject_id"):
                    return json_string(f"invalid subject rule, {kind.lower()} missing subject_id")
        objects = params.get("object_rules")
        if objects is not None:
            if not isinstance(objects, list) or not all(isinstance(r, dict) for r in objects):
                return json_string("invalid object rule")
            for rule in objects:
                if (
                    str(rule.get("type") or "").upper() not in OBJECT_TYPES
                    or str(rule.get("match_mode") or "").upper() not in MATCH_MODES
                    or "pattern" not in rule
                ):
                    return json_string("invalid object rule")
        env_vars = params.get("env_vars")
        if env_vars is not None and not (
            isinstance(env_vars, list) and all(isinstance(e, dict) and e.get("name") for e in env_vars)
        ):
            return json_string("env_vars must be a list of {name, value}")
        files = params.get("files")
        if files is not None:
            if not isinstance(files, list) or not all(isinstance(f, dict) and f.get("path") for f in files):
                return json_string("files must be a list of {path, content}")
            for f in files:
                try:
                    base64.b64decode(str(f.get("content", "")), validate=True)
                except (binascii.Error, ValueError):
                    return json_string(f"content of file {f['path']} must be base64-encoded")
        return None

    # Endpoints -----------------------------------------------------------------------------
    def dt_list(self, request: Request) -> Response:
        project_id = request.args.get("project_id")
        name = request.args.get("target_name")
        if name is not None and not 1 <= len(name) <= 255:
            return json_string("target_name must be string with length between 1 and 255")
        refusal = self.project_refusal(project_id)
        if refusal is not None:
            return refusal
        targets = sorted(
            (t for t in self.targets.values() if t["project_id"] == project_id and (name is None or t["name"] == name)),
            key=lambda t: t["name"],
        )
        return self.json(self.listing([self.dt_json(t) for t in targets]))

    def dt_create(self, request: Request) -> Response:
        params = {**request.args.to_dict(), **request_body(request)}
        token, name, project_id = params.get("unique_token"), params.get("name"), params.get("project_id")
        if not all(isinstance(v, str) for v in (token, name, project_id)):
            return json_string("unique_token, name and project_id are required to create a deployment target")
        if not is_uuid(token):
            return json_string("unique_token must be a valid UUID")
        refusal = self.dt_check_fields(params, creating=True) or self.project_refusal(project_id)
        if refusal is not None:
            return refusal
        if token in self.dt_tokens:  # the same request again: the same answer, nothing new
            target = self.targets.get(self.dt_tokens[token][1])
            if target is not None:
                return self.json(self.dt_json(target))
        if any(t["project_id"] == project_id and t["name"] == name for t in self.targets.values()):
            return json_string(f"deployment target name '{name}' is already used in this project")
        rules = self.resolve_subject_rules(params.get("subject_rules"), project_id)
        if isinstance(rules, Response):
            return rules
        params = {**params, "subject_rules": rules}
        target = self.new_target(
            project_id, params, at=self.now(), key=("api", token), by=self.members["semaphore-api"]
        )
        self.dt_tokens[token] = ("create", target["id"])
        return self.json(self.dt_json(target))

    def dt_describe(self, request: Request, target_id: str) -> Response:
        found = self.dt_find(target_id)
        if isinstance(found, Response):
            return found
        if self.detail_missing():
            return json_string("Not found", 404)
        secrets = str(request.args.get("include_secrets", "")).lower() in ("true", "yes")
        return self.json(self.dt_json(found, secrets=secrets))

    def dt_update(self, request: Request, target_id: str) -> Response:
        params = request_body(request)
        token = params.get("unique_token")
        if not is_uuid(token):
            return json_string("unique_token must be a valid UUID")
        found = self.dt_find(target_id)
        if isinstance(found, Response):
            return found
        if self.dt_tokens.get(token) == ("update", target_id):
            return self.json(self.dt_json(found))
        refusal = self.dt_check_fields(params, creating=False)
        if refusal is not None:
            return refusal
        name = params.get("name")
        if name and any(
            t["project_id"] == found["project_id"] and t["name"] == name and t["id"] != target_id
            for t in self.targets.values()
        ):
            return json_string(f"deployment target name '{name}' is already used in this project")
        rules = self.resolve_subject_rules(params.get("subject_rules"), found["project_id"])
        if isinstance(rules, Response):
            return rules
        self.apply_target_fields(found, {**params, "subject_rules": rules})
        t = self.now()
        found.update(_updated=t, _usable_at=t + SYNC_SECONDS, updated_by=self.members["semaphore-api"])
        self.dt_tokens[token] = ("update", target_id)
        return self.json(self.dt_json(found))

    def dt_delete(self, request: Request, target_id: str) -> Response:
        token = request.args.get("unique_token")
        if not is_uuid(token):
            return json_string("unique_token must be a valid UUID")
        if self.dt_tokens.get(token) == ("delete", target_id):
            return self.json({"target_id": target_id})
        found = self.dt_find(target_id)
        if isinstance(found, Response):
            return found
        del self.targets[target_id]
        self.dt_history.pop(target_id, None)
        self.dt_tokens[token] = ("delete", target_id)
        return self.json({"target_id": target_id})

    def dt_cordon(self, target_id: str, cordoned: bool) -> Response:
        found = self.dt_find(target_id)
        if isinstance(found, Response):
            return found
        found["_cordoned"] = cordoned
        return self.json({"target_id": target_id, "cordoned": cordoned})

    def dt_activate(self, request: Request, target_id: str) -> Response:
        return self.dt_cordon(target_id, False)

    def dt_deactivate(self, request: Request, target_id: str) -> Response:
        return self.dt_cordon(target_id, True)

    def dt_history_page(self, request: Request, target_id: str) -> Response:
        found = self.dt_find(target_id)
        if isinstance(found, Response):
            return found
        args = request.args
        cursor_type = (args.get("cursor_type") or "FIRST").upper()
        if cursor_type not in CURSOR_TYPES:
            return json_string(
                f"Invalid value of 'cursor_type' param: \"{args['cursor_type']}\" - use FIRST, AFTER or BEFORE."
            )
        raw_value = args.get("cursor_value") or "0"
        try:
            value = int(raw_value)
        except ValueError:
            return json_string(f"Invalid value of 'cursor_value' param: \"{raw_value}\" - needs to be integer.")
        ref_type, label, by = (args.get(k) or "" for k in ("git_ref_type", "git_ref_label", "triggered_by"))
        patterns = [(args.get(f"parameter{n}") or "").strip() for n in (1, 2, 3)]
        matching = [
            d
            for d in self.dt_history.get(target_id, [])
            if (not ref_type or d["ref_type"] == ref_type.lower())
            and (not label or d["ref_label"] == label)
            and (not by or d["triggered_by"] == by)
            and all(not p or pattern_matches(p, v) for p, v in zip(patterns, d["params"], strict=True))
        ]  # oldest first
        if cursor_type == "FIRST":
            page = matching[-PAGE:]
        elif cursor_type == "BEFORE":
            page = [d for d in matching if d["us"] < value][-PAGE:]
        else:
            page = [d for d in matching if d["us"] > value][:PAGE]
        if cursor_type == "BEFORE" and self.page_repeats():
            page = [d for d in matching if d["us"] >= value][:PAGE]  # the page that pointed here, again
        before = page[0]["us"] if page and matching[0]["us"] < page[0]["us"] else 0
        after = page[-1]["us"] if page and matching[-1]["us"] > page[-1]["us"] else 0
        if self.pages_endless():
            before = before or (page[0]["us"] if page else value or 1)
            after = after or (page[-1]["us"] if page else value or 1)
        body = {
            "deployments": [self.dt_deployment_json(d) for d in reversed(page)],
            "cursor_before": before,
            "cursor_after": after,
        }
        return self.json(self.listing(body, "deployments"))


__all__ = ["DeploymentsSimMixin"]
