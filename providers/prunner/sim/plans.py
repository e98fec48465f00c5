"""The simulated prunner's ``pipelines.yml`` and how one job of a pipeline is planned.

A plan fixes, from the seed and the job id, how long each task takes, whether it fails
(and with which exit code) and what it writes to stdout and stderr, so a job's whole
course is known when it is created; what the API shows is that plan read at a moment.
The pipelines cover what docs/providers/prunner.md describes: concurrency, each queue
strategy, ``queue_limit: 0``, start delays, fail-fast and continue-after-failure,
``allow_failure``, ``on_error``, and scripts that need variables."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Line = tuple[float, str, str]  # (fraction of the task's duration, "stdout" | "stderr", text)


@dataclass(frozen=True)
class TaskDef:
    name: str
    script: tuple[str, ...]
    depends_on: tuple[str, ...] = ()
    duration: tuple[float, float] = (4.0, 12.0)
    fail_rate: float = 0.0
    warn_rate: float = 0.2  # chance of a stderr warning after each step
    allow_failure: bool = False  # a failure of it does not fail the job (it ends "done")


@dataclass(frozen=True)
class PipelineDef:
    name: str
    tasks: tuple[TaskDef, ...]
    concurrency: int = 1
    queue_limit: int | None = None  # None: unbounded
    queue_strategy: str = "append"  # append | replace | partitioned_replace
    queue_partition_limit: int | None = None
    start_delay: float = 0.0
    continue_running_tasks_after_failure: bool = False
    retention_count: int = 0
    retention_period: float = 0.0
    on_error: TaskDef | None = None
    variables: Callable[[random.Random], dict[str, Any]] = field(default=lambda rng: {}, compare=False)
    # The variable that names the queue partition of seeded jobs (partitioned_replace only).
    partition_variable: str = ""

    def task(self, name: str) -> TaskDef | None:
        if self.on_error is not None and name == "on_error":
            return self.on_error
        return next((t for t in self.tasks if t.name == name), None)


def task_order(tasks: tuple[TaskDef, ...]) -> list[str]:
    """prunner's order for the UI: Kahn's algorithm, the ready queue sorted by name at
    every step, so the same rank is ordered by name."""
    incoming = {t.name: set(t.depends_on) for t in tasks}
    queue = sorted(name for name, deps in incoming.items() if not deps)
    order: list[str] = []
    while queue:
        name = queue.pop(0)
        order.append(name)
        for other, deps in incoming.items():
            if name in deps:
                deps.discard(name)
                if not deps:
                    queue.append(other)
        queue.sort()
    return order


# Variables ------------------------------------------------------------------------------
def go_value(value: Any) -> str:
    """A value as Go's text/template prints an interface{}: lists as ``[a b]``, maps as
    ``map[k:v]``, nil as ``<no value>``."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(go_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_value(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


PLACEHOLDER = re.compile(r"\{\{\s*\.(\w+)\s*\}\}")


def render(template: str, variables: dict[str, Any]) -> str:
    """Enough of text/template for ``{{ .name }}`` placeholders."""
    return PLACEHOLDER.sub(lambda m: go_value(variables.get(m.group(1))), template)


def template_error(template: str, variables: dict[str, Any]) -> str | None:
    """Go's error for the first placeholder naming a variable the job was not given
    (prunner renders scripts with ``missingkey=error``), or None."""
    for match in PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name not in variables:
            line = template.count("\n", 0, match.start()) + 1
            column = match.start(0) + match.group(0).index(".") - (template.rfind("\n", 0, match.start()) + 1)
            return (
                f'template: interpolate:{line}:{column}: executing "interpolate" at <.{name}>: '
                f'map has no entry for key "{name}"'
            )
    return None


def _tag(rng: random.Random) -> str:
    return f"v1.{rng.randint(10, 24)}.{rng.randint(0, 9)}"


def _build_vars(rng: random.Random) -> dict[str, Any]:
    return {
        "branch": rng.choice(["main", "main", "release/1.x", "feature/search"]),
        "commit": f"{rng.getrandbits(28):07x}",
    }


def _deploy_vars(rng: random.Random) -> dict[str, Any]:
    envs = rng.choice([["staging"], ["staging"], ["staging", "production"]])
    return {"tag_name": _tag(rng), "environments": envs}


def _import_vars(rng: random.Random) -> dict[str, Any]:
    return {"tenant": rng.choice(["tenant_a", "tenant_b", "tenant_c"]), "full": rng.random() < 0.2}


def _render_vars(rng: random.Random) -> dict[str, Any]:
    return {"node": f"/sites/{rng.choice(['home', 'blog', 'shop', 'docs'])}"}


# Pipelines --------------------------------------------------------------------------------
def definitions(shards: int = 3, history: int = 12, extra: int = 0) -> dict[str, PipelineDef]:
    """The pipelines, sorted by name. ``shards`` parallel test tasks in build_and_test;
    ``history`` is the retention count (so one new job of a pipeline with full history
    pushes its oldest job out); ``extra`` adds copies of the templates for scale tests."""
    shards = max(shards, 1)
    keep = max(history, 1)
    test_tasks = tuple(
        TaskDef(
            f"unit_tests_{i + 1}",
            (f"vendor/bin/phpunit --shard {i + 1}/{shards}",),
            ("checkout",),
            (8, 30),
            0.08,
        )
        for i in range(shards)
    )
    templates = [
        PipelineDef(
            "build_and_test",
            (
                TaskDef("checkout", ("git fetch origin {{ .branch }}", "git checkout {{ .commit }}"), duration=(2, 5)),
                # Lint findings do not stop a build: an allowed failure (exit 1, job goes on).
                TaskDef("lint", ("composer lint",), ("checkout",), (4, 12), 0.3, allow_failure=True),
                *test_tasks,
                TaskDef("build", ("composer install --no-dev", "npm run build"), ("checkout",), (8, 25)),
                TaskDef(
                    "package", ("tar czf dist.tgz dist/",), ("build", "lint", *[t.name for t in test_tasks]), (3, 8)
                ),
            ),
            concurrency=2,
            retention_count=keep,
            variables=_build_vars,
        ),
        PipelineDef(
            "deploy",
            (
                TaskDef("build_image", ("docker build -t app:{{ .tag_name }} .",), (), (8, 20)),
                TaskDef("migrate", ("./flow doctrine:migrate",), ("build_image",), (3, 8), 0.05),
                TaskDef("deploy", ("./deploy.sh {{ .tag_name }} {{ .environments }}",), ("migrate",), (6, 15)),
                TaskDef("smoke_test", ("curl -fsS https://staging.example.com/health",), ("deploy",), (3, 8), 0.2),
            ),
            queue_limit=1,
            retention_count=keep,
            on_error=TaskDef("on_error", ('echo "Deploy failed in {{ .failedTaskName }}" | notify',), (), (1, 3)),
            variables=_deploy_vars,
        ),
        PipelineDef(
            "import_tenant",
            (
                TaskDef("fetch", ("./import fetch {{ .tenant }}",), (), (3, 8)),
                TaskDef("import_customers", ("./import customers {{ .tenant }}",), ("fetch",), (8, 25), 0.1),
                TaskDef("import_products", ("./import products {{ .tenant }}",), ("fetch",), (10, 30), 0.12),
                TaskDef("reindex", ("./flow search:reindex",), ("import_customers", "import_products"), (4, 10)),
            ),
            queue_strategy="partitioned_replace",
            queue_partition_limit=1,
            start_delay=3.0,
            continue_running_tasks_after_failure=True,
            retention_count=keep,
            variables=_import_vars,
            partition_variable="tenant",
        ),
        PipelineDef(
            "nightly_cleanup",
            (
                TaskDef("prune_logs", ("find /var/log/app -mtime +14 -delete",), (), (2, 6)),
                TaskDef("vacuum_db", ("psql -c 'VACUUM ANALYZE'",), (), (5, 15), 0.05),
            ),
            retention_count=keep,
        ),
        # Queueing disabled: prunner b692da9 refuses every job of it, even while none runs.
        PipelineDef(
            "rollback",
            (TaskDef("rollback", ("./deploy.sh --rollback {{ .tag_name }}",), (), (5, 10)),),
            queue_limit=0,
            retention_count=keep,
            variables=_deploy_vars,
        ),
        PipelineDef(
            "render_content",
            (TaskDef("render", ("./flow content:render {{ .node }}",), (), (10, 30), 0.03),),
            queue_limit=1,
            queue_strategy="replace",
            retention_count=keep,
            retention_period=30 * 24 * 3600.0,
            variables=_render_vars,
        ),
    ]
    pipelines = {p.name: p for p in templates}
    for i in range(max(extra, 0)):
        template = templates[i % len(templates)]
        copy = PipelineDef(**{**template.__dict__, "name": f"{template.name}_{i // len(templates) + 2}"})
        pipelines[copy.name] = copy
    return dict(sorted(pipelines.items()))


# One job's plan ---------------------------------------------------------------------------
@dataclass
class TaskPlan:
    duration: float
    exit_code: int  # 0: the task passes
    lines: list[Line]
    error: str | None = None  # it fails before running anything (a script that cannot be rendered)


@dataclass
class JobPlan:
    tasks: dict[str, TaskPlan]
    on_error: TaskPlan | None
    # A seeded job may be canceled by someone after this fraction of its run (None: never).
    cancel_after: float | None = None


FAILURES = [
    (1, "PHP Fatal error:  Uncaught TypeError in Classes/Service/Importer.php:142"),
    (1, "Error: 3 tests failed"),
    (2, "ERROR: connection refused (db:5432)"),
    (127, "sh: 1: composer: not found"),
]


def plan_task(task: TaskDef, rng: random.Random, variables: dict[str, Any]) -> TaskPlan:
    duration = round(rng.uniform(*task.duration), 1)
    unrenderable = next(filter(None, (template_error(command, variables) for command in task.script)), None)
    if unrenderable:
        return TaskPlan(0.0, -1, [], unrenderable)
    fails = rng.random() < task.fail_rate
    exit_code, failure = rng.choice(FAILURES) if fails else (0, "")
    lines: list[Line] = []
    steps = rng.randint(2, 6)
    for n, command in enumerate(task.script):
        lines.append((0.02 + n * 0.01, "stdout", f"$ {render(command, variables)}\n"))
    for i in range(steps):
        frac = round(0.1 + 0.85 * (i + 1) / (steps + 1), 3)
        lines.append((frac, "stdout", f"[{task.name}] step {i + 1}/{steps} done\n"))
        if rng.random() < task.warn_rate:
            lines.append((frac, "stderr", f"warning: {task.name} step {i + 1} took longer than expected\n"))
    if fails:
        lines.append((1.0, "stderr", failure + "\n"))
    else:
        lines.append((1.0, "stdout", f"[{task.name}] finished\n"))
    return TaskPlan(duration, exit_code, lines)


def plan_job(pipeline: PipelineDef, rng: random.Random, variables: dict[str, Any], cancel_rate: float) -> JobPlan:
    tasks = {name: plan_task(pipeline.task(name), rng, variables) for name in task_order(pipeline.tasks)}
    # The failed task is known only when on_error runs: keep its placeholders for then.
    late = {name: "{{ ." + name + " }}" for name in ("failedTaskName", "failedTaskExitCode", "failedTaskError")}
    on_error = plan_task(pipeline.on_error, rng, {**variables, **late}) if pipeline.on_error else None
    cancel_after = round(rng.uniform(0.2, 0.8), 2) if rng.random() < cancel_rate else None
    return JobPlan(tasks, on_error, cancel_after)
