"""What Semaphore pages show beyond the neutral fields (templates in
templates/providers/semaphore/; docs/providers/semaphore.md says where each value comes
from). Every context is plain data (our rows appear as ``object`` only for their
buttons and links), so the API serves what the page shows.

Live panels ask Semaphore while the page waits for them (loaded after the page, with a
small request bound); the others read what the sync stored."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.http import QueryDict

from providers.base.errors import ProviderError
from providers.base.panels import PanelSet, provider_error_for
from providers.base.parse import items, obj, text, timestamp

from .globs import first_match
from .mapping.deployments import deployment_view, is_uuid, logins_of, who
from .mapping.jobs import is_phantom, job_view
from .mapping.pipelines import blocks_view, combined_state
from .mapping.retention import LEVELS

if TYPE_CHECKING:
    from django.http import HttpRequest

panels = PanelSet()
ACTIVE_STATES = ("PENDING", "QUEUED", "RUNNING")
SHOWN_JOBS = 50
GIT_REF_TYPES = (("", "any ref"), ("branch", "branch"), ("tag", "tag"), ("pr", "pull request"))


def _query(request: HttpRequest | None) -> QueryDict:
    return request.GET if request is not None else QueryDict()


def _held_builds(connection, ids: list[str]) -> dict[str, str]:
    """Links to the builds we hold among ``ids``."""
    from dashboard.models import Build

    rows = Build.objects.filter(connection=connection, external_id__in=[i for i in ids if i]).select_related(
        "connection"
    )
    return {b.external_id: b.get_absolute_url() for b in rows}


# Build page ------------------------------------------------------------------------------------
@panels("build_panel", page="build", live=True, title="Promotions")
def promotions_panel(adapter, build, request) -> dict:
    """Every promotion triggered from this pipeline (all pages), newest first."""
    found = adapter.client.promotions(build.external_id, max_pages=5)
    links = _held_builds(build.connection, [text(p.get("scheduled_pipeline_id")) for p in found])
    return {
        "promotions": [
            {
                "name": text(p.get("name")),
                "status": text(p.get("status")).lower(),
                "triggered_by": who(text(p.get("triggered_by")), {}),
                "triggered_by_id": text(p.get("triggered_by")) if is_uuid(text(p.get("triggered_by"))) else "",
                "triggered_at": timestamp(p.get("triggered_at")),
                "scheduled_at": timestamp(p.get("scheduled_at")),
                "override": p.get("override") if isinstance(p.get("override"), bool) else None,
                "pipeline_id": text(p.get("scheduled_pipeline_id")),
                "url": links.get(text(p.get("scheduled_pipeline_id")), ""),
            }
            for p in found
        ]
    }


@panels("workflow", page="build", live=True, title="Workflow")
def workflow_panel(adapter, build, request) -> dict:
    """The workflow this pipeline belongs to, with its pipelines grouped as Semaphore's
    UI shows them: the initial pipeline, the promotions (each from the pipeline it was
    promoted from), and partial rebuilds."""
    if not build.group_id:
        return {"workflow": None}
    workflow = adapter.client.workflow(build.group_id)
    listed = adapter.client.workflow_pipelines(build.group_id)
    links = _held_builds(build.connection, [text(p.get("ppl_id")) for p in listed])
    names = {text(p.get("ppl_id")): text(p.get("name")) for p in listed}
    initial = text(workflow.get("initial_ppl_id"))
    rows = []
    for p in sorted(listed, key=lambda p: timestamp(p.get("created_at")) or build.created_at):
        ppl_id = text(p.get("ppl_id"))
        promoted_from, rebuild_of = text(p.get("promotion_of")), text(p.get("partial_rerun_of"))
        rows.append(
            {
                "id": ppl_id,
                "name": text(p.get("name")),
                "raw_state": combined_state(p.get("state"), p.get("result")),
                "yml": "/".join(x for x in (text(p.get("working_directory")), text(p.get("yaml_file_name"))) if x),
                "created_at": timestamp(p.get("created_at")),
                "kind": "initial"
                if ppl_id == initial
                else "promotion"
                if promoted_from
                else "rebuild"
                if rebuild_of
                else "other",
                "from_id": promoted_from or rebuild_of,
                "from_name": names.get(promoted_from or rebuild_of, ""),
                "url": links.get(ppl_id, ""),
                "current": ppl_id == build.external_id,
            }
        )
    groups = [
        (label, [r for r in rows if r["kind"] == kind])
        for kind, label in (
            ("initial", "Initial"),
            ("promotion", "Promotions"),
            ("rebuild", "Rebuilds"),
            ("other", "Other"),
        )
    ]
    return {
        "workflow": {
            "id": text(workflow.get("wf_id")) or build.group_id,
            "triggered_by": text(workflow.get("triggered_by")).lower(),
            "requester_id": text(workflow.get("requester_id")),
            "created_at": timestamp(workflow.get("created_at")),
            "branch": text(workflow.get("branch_name")),
            "commit_sha": text(workflow.get("commit_sha")),
            "rerun_of": text(workflow.get("rerun_of")),
            "initial_pipeline_id": initial,
        },
        "groups": [(label, group) for label, group in groups if group],
    }


@panels("blocks", page="build", title="Blocks")
def blocks_panel(adapter, build, request) -> dict:
    """The pipeline's blocks as last synced: state, result and why."""
    return {"blocks": blocks_view(build.raw), "pipeline": _pipeline_facts(build.raw)}


def _pipeline_facts(raw: Any) -> dict:
    ppl = obj(obj(raw).get("pipeline"))
    return {
        "result_reason": text(ppl.get("result_reason")).lower(),
        "error": text(ppl.get("error_description"), 2000),
        "terminated_by": text(ppl.get("terminated_by")),
        "promotion_of": text(ppl.get("promotion_of")),
        "partial_rerun_of": text(ppl.get("partial_rerun_of")),
        "switch_id": text(ppl.get("switch_id")),
    }


# Job page --------------------------------------------------------------------------------------
@panels("job_panel", page="job", title="Job")
def job_panel(adapter, job, request) -> dict:
    """The job's spec and where it belongs, as last described (either API shape)."""
    return {"spec": job_view(obj(job.raw).get("job"))}


# Connection page -------------------------------------------------------------------------------
class ActiveJobsForm(forms.Form):
    jobs_project = forms.ChoiceField(required=False, label="Project")
    jobs_state = forms.ChoiceField(
        required=False, label="State", choices=[("", "queued or running"), *[(s, s.lower()) for s in ACTIVE_STATES]]
    )

    def __init__(self, *args, projects: list[tuple[str, str]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["jobs_project"].choices = [("", "every project"), *projects]


@panels("connection_extra", page="connection", live=True, title="Active jobs")
def active_jobs_panel(adapter, connection, request) -> dict:
    """Jobs queued or running anywhere in the organisation, newest first, optionally of
    one project (the v2 list filters by ``project_id``; v1alpha's list cannot, so its
    answer is filtered here)."""
    from dashboard.models import Project

    projects = list(Project.objects.filter(connection=connection, gone=False).values_list("external_id", "name"))
    query = _query(request)
    form = ActiveJobsForm(query if "jobs_project" in query or "jobs_state" in query else None, projects=projects)
    chosen = form.cleaned_data if form.is_bound and form.is_valid() else {}
    project_id, state = chosen.get("jobs_project") or "", chosen.get("jobs_state") or ""
    api = adapter.jobs_api
    if api == "v2":
        found = [
            j
            for s in ([state] if state else ACTIVE_STATES)
            for j in adapter.client.jobs_v2(s, project_id, limit=SHOWN_JOBS)
        ]
    else:
        found = adapter.client.jobs((state,) if state else ACTIVE_STATES, limit=SHOWN_JOBS * 2)
        if project_id:
            found = [j for j in found if (job_view(j) or {}).get("project", {}).get("id") == project_id]
    rows = [job_view(j) for j in found if not is_phantom(j)]
    return {"active_jobs": rows[:SHOWN_JOBS], "jobs_api": api, "jobs_form": form}


@panels("connection_panel", page="connection", title="Self-hosted agents")
def agents_panel(adapter, connection, request) -> dict:
    """The synced agent types with their agents, and short lists of the deployment
    targets and retention policies (their detail is on each project's page)."""
    from dashboard.models import Agent, AgentType, DeploymentTarget, RetentionPolicy

    by_type: dict[int | None, list] = {}
    for agent in Agent.objects.filter(connection=connection).order_by("name"):
        by_type.setdefault(agent.agent_type_id, []).append(_agent(agent))
    types = []
    for t in AgentType.objects.filter(connection=connection).order_by("name"):
        aws = obj(obj(obj(obj(t.raw).get("spec")).get("agent_name_settings")).get("aws"))
        types.append(
            {
                "name": t.name,
                "origin": t.assignment_origin.removeprefix("assignment_origin_"),
                "release_after": t.release_after,
                "total_agents": t.total_agents,
                "aws_account_id": text(aws.get("account_id")),
                "aws_role_name_patterns": text(aws.get("role_name_patterns")),
                "created_at": t.created_at,
                "updated_at": t.updated_at,
                "agents": by_type.get(t.pk, []),
                "object": t,
            }
        )
    targets = (
        DeploymentTarget.objects.filter(connection=connection)
        .select_related("project")
        .order_by("project__name", "name")
    )
    policies = RetentionPolicy.objects.filter(connection=connection).select_related("project")
    return {
        "agent_types": types,
        "orphan_agents": by_type.get(None, []),
        "targets": [
            {
                "name": t.name,
                "state": t.state,
                "raw_state": t.raw_state,
                "active": t.active,
                "project_id": t.project.external_id if t.project else "",
                "project_name": t.project.name if t.project else "",
                "id": t.external_id,
            }
            for t in targets
        ],
        "policies": [
            {
                "project_id": p.project.external_id if p.project else "",
                "project_name": p.project.name if p.project else p.external_id,
                "rules": sum(len(items(v)) for v in obj(p.rules).values()),
            }
            for p in policies
        ],
    }


def _agent(agent) -> dict:
    return {
        "name": agent.name,
        "state": agent.state,
        "raw_state": agent.raw_state,
        "hostname": agent.hostname,
        "ip_address": agent.ip_address,
        "pid": agent.pid,
        "version": agent.version,
        "os": agent.os,
        "arch": agent.arch,
        "connected_at": agent.connected_at,
        "disabled_at": agent.disabled_at,
        "id": agent.external_id,
    }


# Project page ----------------------------------------------------------------------------------
class PipelineSearchForm(forms.Form):
    branch_name = forms.CharField(required=False, max_length=255, label="Branch")
    yml_file_path = forms.CharField(required=False, max_length=255, label="YAML file")
    wf_id = forms.UUIDField(required=False, label="Workflow id")
    created_after = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    created_before = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    done_after = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    done_before = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    def filters(self) -> dict:
        data = self.cleaned_data
        return {k: (int(v.timestamp()) if hasattr(v, "timestamp") else str(v)) for k, v in data.items() if v}


def _pipeline_row(p: dict, links: dict[str, str]) -> dict:
    ppl_id = text(p.get("ppl_id"))
    return {
        "id": ppl_id,
        "name": text(p.get("name")),
        "branch": text(p.get("branch_name")),
        "raw_state": combined_state(p.get("state"), p.get("result")),
        "yml": text(p.get("yaml_file_name")),
        "wf_id": text(p.get("wf_id")),
        "created_at": timestamp(p.get("created_at")),
        "url": links.get(ppl_id, ""),
    }


@panels("project_extra", page="project", live=True, title="Pipelines and workflows at Semaphore")
def search_panel(adapter, project, request) -> dict:
    """Semaphore's own pipelines list for the project with every documented filter
    (``?search=1``), and the project's latest workflows (of a branch, when one is given)."""
    query = _query(request)
    form = PipelineSearchForm(query if "search" in query else None)
    context: dict[str, Any] = {"search_form": form, "search_rows": None, "search_more": False}
    if form.is_bound:
        if not form.is_valid():
            context["search_error"] = "Some filters are not valid: " + "; ".join(
                f"{k}: {' '.join(v)}" for k, v in form.errors.items()
            )
        else:
            filters = form.filters()
            wf_id = filters.pop("wf_id", "")
            found, following = adapter.client.pipelines_page(
                "" if wf_id else project.external_id, None, wf_id=wf_id, **filters
            )
            links = _held_builds(project.connection, [text(p.get("ppl_id")) for p in found])
            context.update(search_rows=[_pipeline_row(p, links) for p in found], search_more=following is not None)
    branch = form.cleaned_data.get("branch_name", "") if form.is_bound and form.is_valid() else ""
    workflows, following = adapter.client.workflows_page(project.external_id, None, branch_name=branch)
    links = _held_builds(project.connection, [text(w.get("initial_ppl_id")) for w in workflows])
    context["workflows"] = [
        {
            "id": text(w.get("wf_id")),
            "branch": text(w.get("branch_name")),
            "commit_sha": text(w.get("commit_sha")),
            "triggered_by": text(w.get("triggered_by")).lower(),
            "rerun_of": text(w.get("rerun_of")),
            "created_at": timestamp(w.get("created_at")),
            "initial_pipeline_id": text(w.get("initial_ppl_id")),
            "url": links.get(text(w.get("initial_ppl_id")), ""),
        }
        for w in workflows
    ]
    context["workflows_more"] = following is not None
    return context


class HistoryFilterForm(forms.Form):
    """The project panel's GET form over one target's history (prefixed names: the
    project page uses ``after`` for its own paging)."""

    dt = forms.CharField(required=False)
    dt_ref_type = forms.ChoiceField(required=False, choices=GIT_REF_TYPES)
    dt_ref_label = forms.CharField(required=False, max_length=255)
    dt_triggered_by = forms.CharField(required=False, max_length=255)
    dt_parameter1 = forms.CharField(required=False, max_length=100)
    dt_parameter2 = forms.CharField(required=False, max_length=100)
    dt_parameter3 = forms.CharField(required=False, max_length=100)
    dt_cursor = forms.CharField(required=False)

    def clean_dt_cursor(self) -> tuple[str, int | None]:
        value = (self.cleaned_data.get("dt_cursor") or "").strip()
        if not value:
            return "FIRST", None
        kind, _, number = value.partition(":")
        if kind not in ("before", "after") or not number.isdigit():
            raise forms.ValidationError("Unknown history position; showing the newest.")
        return kind.upper(), int(number)


FILTER_NAMES = ("dt_ref_type", "dt_ref_label", "dt_triggered_by", "dt_parameter1", "dt_parameter2", "dt_parameter3")


def _target(t, last) -> dict:
    raw = obj(t.raw)
    return {
        "id": t.external_id,
        "name": t.name,
        "description": t.description,
        "url": t.url,
        "state": t.state,
        "raw_state": t.raw_state,
        "state_message": t.state_message,
        "active": t.active,
        "created_at": t.created_at,
        "updated_at": t.updated_at,
        "created_by": text(raw.get("created_by")),
        "updated_by": text(raw.get("updated_by")),
        "bookmarks": [text(raw.get(f"bookmark_parameter{n}")) for n in (1, 2, 3)],
        "subject_rules": [
            {"type": text(obj(r).get("type")), "who": text(obj(r).get("git_login")) or text(obj(r).get("subject_id"))}
            for r in items(raw.get("subject_rules"))
        ],
        "object_rules": [
            {
                "type": text(obj(r).get("type")),
                "mode": text(obj(r).get("match_mode")),
                "pattern": text(obj(r).get("pattern")),
            }
            for r in items(raw.get("object_rules"))
        ],
        "last": {
            "state": last.state,
            "raw_state": last.raw_state,
            "triggered_at": last.triggered_at,
            "triggered_by": last.triggered_by,
            "triggered_by_id": text(obj(last.raw).get("triggered_by")),
            "build": last.build,
            "pipeline_id": last.pipeline_external_id,
        }
        if last
        else None,
        "object": t,
    }


@panels("project_panel", page="project", live=True, title="Deployment targets and artifact retention")
def project_panel(adapter, project, request) -> dict:
    """The project's targets (stored), the live history of one of them with Semaphore's
    filters and BEFORE/AFTER paging in the query string, and the retention policy with
    a "which rule applies" check."""
    from dashboard.models import Build, DeploymentTarget

    targets = list(
        DeploymentTarget.objects.filter(connection_id=project.connection_id, project=project).order_by("name")
    )
    query = _query(request)
    form = HistoryFilterForm(query)
    form.is_valid()  # a bad field is dropped (and shown); the others still apply
    data = form.cleaned_data
    by_id = {t.external_id: t for t in targets}
    selected = by_id.get(data.get("dt") or "") or (targets[0] if targets else None)
    context: dict[str, Any] = {
        "targets": [_target(t, t.deployments.select_related("build").first()) for t in targets],
        "selected": _target(selected, None) if selected else None,
        "filters": form,
        "filter_errors": [" ".join(v) for v in form.errors.values()],
        "ref_types": GIT_REF_TYPES,
        "filter_values": {k: data.get(k) or "" for k in FILTER_NAMES},
        "history": None,
        "history_error": "",
        "retention": retention_context(project, query),
    }
    if selected is None:
        return context
    logins = logins_of(selected.raw)
    by_login = {login: user_id for user_id, login in logins.items()}
    cursor_type, cursor_value = data.get("dt_cursor") or ("FIRST", None)
    triggered_by = (data.get("dt_triggered_by") or "").strip()
    try:
        page = adapter.client.deployment_history(
            selected.external_id,
            cursor_type=cursor_type,
            cursor_value=cursor_value,
            git_ref_type=data.get("dt_ref_type") or "",
            git_ref_label=data.get("dt_ref_label") or "",
            triggered_by=by_login.get(triggered_by, triggered_by),
            **{f"parameter{n}": data.get(f"dt_parameter{n}") or "" for n in (1, 2, 3)},
        )
    except ProviderError as exc:
        context["history_error"] = f"Semaphore could not be asked for the history: {provider_error_for(request, exc)}"
        return context
    history = [deployment_view(d, logins) for d in page.deployments]
    builds = {
        b.external_id: b
        for b in Build.objects.filter(
            connection_id=project.connection_id,
            external_id__in=[i for d in history for i in (d["pipeline_id"], d["prev_pipeline_id"]) if i],
        )
    }
    for entry in history:
        entry["build"] = builds.get(entry["pipeline_id"])
        entry["prev_build"] = builds.get(entry["prev_pipeline_id"])
    context["history"] = history

    def link(cursor: str | None) -> str:
        params = query.copy()
        params["dt"] = selected.external_id
        params.pop("after", None)  # the page's own build paging does not apply to another history page
        if cursor:
            params["dt_cursor"] = cursor
        else:
            params.pop("dt_cursor", None)
        return "?" + params.urlencode() + "#deployment-history"

    context["older_url"] = link(f"before:{page.cursor_before}") if page.cursor_before else ""
    context["newer_url"] = link(f"after:{page.cursor_after}") if page.cursor_after else ""
    context["newest_url"] = link(None) if cursor_type != "FIRST" else ""
    return context


def retention_context(project, query: QueryDict) -> dict:
    """The project's stored policy and, for a path typed into the panel's small form,
    the rule that applies to it (``rp_path``, ``rp_level`` in the query string)."""
    policy = project.retentionpolicy_set.first()
    rules = obj(policy.rules) if policy is not None else {}
    path = (query.get("rp_path") or "").strip()
    level = query.get("rp_level") if query.get("rp_level") in LEVELS else "job"
    check = None
    if path:
        found = first_match(path, rules.get(level))
        check = {
            "path": path,
            "level": level,
            "index": found[0] if found else None,
            "rule": found[1] if found else None,
        }
    return {
        "policy": policy,
        "synced": policy is not None,
        "levels": [(name, items(rules.get(name))) for name in LEVELS],
        "has_rules": any(items(rules.get(name)) for name in LEVELS),
        "check": check,
        "check_level": level,
        "check_path": path,
        "level_names": LEVELS,
    }
