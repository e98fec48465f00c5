"""The simulated Semaphore's artifact retention policies (docs/providers/semaphore.md,
"Artifact retention"); mixed into SemaphoreSimulator.

Validation follows Semaphore's public API (``artifacts_retention_policies/update.ex``):
errors are JSON strings with its words, parameters are checked before access. Ages are
1-12 week(s)/month(s)/year(s) as the docs say (the real server also takes day(s)).
Configuring replaces all three levels; a project never configured has none."""

from __future__ import annotations

import re

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from .http import json_string, request_body, text

V1 = "/api/v1alpha"
LEVELS = ("project", "workflow", "job")
AGE = re.compile(r"^(1[0-2]|[1-9])\s(?:week|weeks|month|months|year|years)$")


class RetentionSimMixin:
    def init_retention(self) -> None:
        """The first project starts with the docs' example policy; the others have none."""
        self.retention_policies: dict[str, dict[str, list[dict]]] = {}
        first = next(iter(self.projects), None)
        if first is not None:
            self.retention_policies[first] = {
                "project": [{"selector": "/**/*", "age": "1 year"}],
                "workflow": [],
                "job": [
                    {"selector": "/screenshots/**/*.png", "age": "2 weeks"},
                    {"selector": "/logs/**/*.txt", "age": "3 months"},
                ],
            }

    def retention_routes(self) -> list[Rule]:
        return [
            Rule(f"{V1}/artifacts_retention_policies", endpoint="rp_configure", methods=["POST"]),
            Rule(f"{V1}/artifacts_retention_policies/<project_id>", endpoint="rp_describe", methods=["GET"]),
        ]

    def rp_json(self, project_id: str) -> dict:
        policy = self.retention_policies.get(project_id, {})
        return {f"{level}_level_retention_policies": [dict(r) for r in policy.get(level, [])] for level in LEVELS}

    def rp_describe(self, request: Request, project_id: str) -> Response:
        refusal = self.project_refusal(project_id)
        if refusal is not None:
            return refusal
        if self.detail_missing():
            return text("Not found", 404)
        return self.json(self.rp_json(project_id))

    def rp_configure(self, request: Request) -> Response:
        params = request_body(request)
        project_id = str(params.get("project_id") or "")
        if not project_id:
            return json_string("project_id must be present")
        lists = {level: params.get(f"{level}_level_retention_policies") for level in LEVELS}
        for level, rules in lists.items():
            if rules is not None and not isinstance(rules, list):
                return json_string(f"'{level}_level_retention_policies' must be a list of rules")
        if not any(isinstance(v, list) and v for v in lists.values()):
            return json_string("at least one retention policy configuration must be defined")
        for rules in lists.values():
            for rule in rules or []:
                rule = rule if isinstance(rule, dict) else {}
                if not isinstance(rule.get("selector"), str) or not rule["selector"].strip():
                    return json_string("the 'selector' field must be a non-empty string")
                age = rule.get("age")
                if not isinstance(age, str) or not age:
                    return json_string(
                        "the 'age' fields must be a string, valid examples: 1 week, 2 weeks, 3 months, 4 years"
                    )
                if not AGE.match(age):
                    return json_string(
                        f"invalid 'age' value: '{age}' - valid examples: 1 week, 2 weeks, 3 months, 4 years"
                    )
        refusal = self.project_refusal(project_id)
        if refusal is not None:
            return refusal
        self.retention_policies[project_id] = {
            level: [{"selector": r["selector"], "age": r["age"]} for r in (lists[level] or [])] for level in LEVELS
        }
        return self.json(self.rp_json(project_id))


__all__ = ["RetentionSimMixin"]
