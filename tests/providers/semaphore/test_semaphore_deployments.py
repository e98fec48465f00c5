"""Semaphore deployment targets and their history (docs/providers/semaphore.md,
"Deployment targets"): the client against the simulator over HTTP, the incremental sync
into Deployment rows with neutral states, the actions (an edit changes only what it
sends), and the project panel."""

import base64
import re
import uuid
from urllib.parse import parse_qs, urlparse

import pytest
from django.template.loader import render_to_string

from dashboard.actions import run_action
from dashboard.models import ActionLog, Build, Deployment, DeploymentTarget, Project, SyncRun
from dashboard.sync import apply_batch, sync_connection
from providers.base.errors import AuthError, NotFound, PermissionDenied, Rejected
from providers.semaphore.actions.deployments import TargetForm
from providers.semaphore.adapter import micros
from providers.semaphore.client import SemaphoreClient
from providers.semaphore.client.deployments import encoded_files
from providers.semaphore.panels import HistoryFilterForm, project_panel
from providers.semaphore.sim.deployments import START_SECONDS, SYNC_SECONDS, hidden
from tests.conftest import make_connection

from .support import action, api_panel_url

V1 = "/api/v1alpha"
ISO_US = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def target_named(sim, project_id: str, name: str) -> dict:
    return next(t for t in sim.targets.values() if t["project_id"] == project_id and t["name"] == name)


def all_history(api, target_id: str, **filters) -> list[dict]:
    page = api.deployment_history(target_id, **filters)
    found = list(page.deployments)
    while page.cursor_before:
        page = api.deployment_history(target_id, cursor_type="BEFORE", cursor_value=page.cursor_before, **filters)
        found += page.deployments
    return found


# Client: targets ---------------------------------------------------------------------------------
def test_targets_are_listed_per_project_in_the_documented_shape(api, semaphore_sim, project_id):
    targets = api.deployment_targets(project_id)

    assert [t["name"] for t in targets] == ["Production", "Staging"]
    production = targets[0]
    assert production["project_id"] == project_id and production["active"] is True
    assert production["state"] == "USABLE"
    assert ISO_US.match(production["created_at"]) and ISO_US.match(production["updated_at"])
    members = semaphore_sim.members
    assert production["subject_rules"] == [  # users come with their git login alongside
        {"type": "USER", "subject_id": members["alice"], "git_login": "alice"},
        {"type": "USER", "subject_id": members["bob"], "git_login": "bob"},
        {"type": "AUTO", "subject_id": ""},
    ]
    assert targets[1]["subject_rules"] == [{"type": "ANY", "subject_id": ""}]
    assert {r["type"] for r in production["object_rules"]} == {"BRANCH", "TAG", "PR"}
    assert "env_vars" not in production  # secrets only when asked for
    assert production["last_deployment"]["target_id"] == production["id"]


def test_a_target_is_found_by_name_or_not_at_all(api, project_id):
    found = api.get_json(f"{V1}/deployment_targets", params={"project_id": project_id, "target_name": "Staging"})
    assert [t["name"] for t in found] == ["Staging"]
    assert api.get_json(f"{V1}/deployment_targets", params={"project_id": project_id, "target_name": "Nowhere"}) == []


def test_a_target_is_described_and_an_unknown_one_is_not_found(api, semaphore_sim, project_id):
    staging = target_named(semaphore_sim, project_id, "Staging")

    assert api.deployment_target(staging["id"])["name"] == "Staging"
    with pytest.raises(NotFound) as missing:
        api.deployment_target(str(uuid.uuid4()))
    assert missing.value.body == '"Not found"'  # a JSON string, as Semaphore answers
    with pytest.raises(Rejected, match="target_id must be a valid UUID"):
        api.deployment_target("staging")


def test_unknown_and_forbidden_projects_answer_in_plain_text(api, semaphore_sim, project_id):
    with pytest.raises(NotFound, match="Not found"):
        api.deployment_targets(str(uuid.uuid4()))
    with pytest.raises(Rejected, match="project id must be a valid UUID"):
        api.deployment_targets("api")
    semaphore_sim.denied_projects.add(project_id)
    with pytest.raises(PermissionDenied, match="Permission denied"):
        api.deployment_targets(project_id)
    with pytest.raises(PermissionDenied):
        api.deployment_target(target_named(semaphore_sim, project_id, "Staging")["id"])
    with SemaphoreClient(semaphore_sim.url, "wrong-token") as stranger, pytest.raises(AuthError):
        stranger.deployment_targets(project_id)


def test_creating_twice_with_one_unique_token_makes_one_target(api, semaphore_sim, project_id, clock):
    token = str(uuid.uuid4())
    fields = {"name": "Canary", "description": "1% of traffic", "url": "https://canary.example.com"}
    files = [("/etc/app/config.yml", "replicas: 1\n"), ("/etc/app/key.bin", b"\x00\x01binary")]

    secrets = {"env_vars": [{"name": "REGION", "value": "eu-west-1"}], "files": encoded_files(files)}

    first = api.create_deployment_target(project_id, {**fields, **secrets}, unique_token=token)
    again = api.create_deployment_target(project_id, {**fields, **secrets}, unique_token=token)

    assert first["id"] == again["id"]
    assert [t["name"] for t in api.deployment_targets(project_id)] == ["Canary", "Production", "Staging"]
    stored = semaphore_sim.targets[first["id"]]
    assert {path: base64.b64decode(content) for path, content in stored["_files"].items()} == {
        "/etc/app/config.yml": b"replicas: 1\n",
        "/etc/app/key.bin": b"\x00\x01binary",
    }
    assert stored["_env_vars"] == [{"name": "REGION", "value": "eu-west-1"}]
    assert first["state"] == "SYNCING" and first["last_deployment"] is None
    clock.advance(SYNC_SECONDS)
    assert api.deployment_target(first["id"])["state"] == "USABLE"


def test_create_is_refused_without_a_uuid_token_or_with_a_taken_name(api, project_id):
    with pytest.raises(Rejected) as refused:
        api.create_deployment_target(project_id, {"name": "X"}, unique_token="again")
    assert str(refused.value) == "unique_token must be a valid UUID"
    with pytest.raises(Rejected, match="already used"):
        api.create_deployment_target(project_id, {"name": "Production"}, unique_token=str(uuid.uuid4()))


def test_an_update_needs_a_valid_unique_token(api, semaphore_sim, project_id):
    staging = target_named(semaphore_sim, project_id, "Staging")

    with pytest.raises(Rejected) as refused:
        api.update_deployment_target(staging["id"], {"url": "https://x"}, unique_token="not-a-uuid")
    assert str(refused.value) == "unique_token must be a valid UUID"

    updated = api.update_deployment_target(
        staging["id"], {"url": "https://staging2.example.com", "name": "Staging 2"}, unique_token=str(uuid.uuid4())
    )
    assert (updated["name"], updated["url"], updated["state"]) == (
        "Staging 2",
        "https://staging2.example.com",
        "SYNCING",
    )


def test_deactivate_activate_and_delete(api, semaphore_sim, project_id):
    staging = target_named(semaphore_sim, project_id, "Staging")

    assert api.deactivate_deployment_target(staging["id"]) is True
    cordoned = api.deployment_target(staging["id"])
    assert (cordoned["active"], cordoned["state"]) == (False, "CORDONED")
    assert api.activate_deployment_target(staging["id"]) is False
    assert api.deployment_target(staging["id"])["active"] is True

    token = str(uuid.uuid4())
    assert api.delete_deployment_target(staging["id"], token) == staging["id"]
    assert api.delete_deployment_target(staging["id"], token) == staging["id"]  # the same request again
    with pytest.raises(NotFound):
        api.deployment_target(staging["id"])
    with pytest.raises(Rejected, match="unique_token must be a valid UUID"):
        api.delete_deployment_target(target_named(semaphore_sim, project_id, "Production")["id"], "x")


def test_a_promotion_to_a_deactivated_target_is_recorded_as_failed(api, semaphore_sim, project_id):
    production = target_named(semaphore_sim, project_id, "Production")
    ppl_id = next(p.id for p in semaphore_sim.pipelines.values() if p.project_id == project_id)
    api.deactivate_deployment_target(production["id"])

    semaphore_sim.record_deployment(production["id"], ppl_id, "API", [{"name": "MESSAGE", "value": "hi"}])

    newest = api.deployment_history(production["id"]).deployments[0]
    assert (newest["state"], newest["state_message"]) == ("FAILED", "Deployment target is deactivated")
    assert newest["env_vars"] == [{"name": "MESSAGE", "value": "hi"}]


# Client: history ---------------------------------------------------------------------------------
def test_history_pages_backwards_with_before_cursors(api, semaphore_sim, project_id):
    production = target_named(semaphore_sim, project_id, "Production")
    expected = [d["id"] for d in reversed(semaphore_sim.dt_history[production["id"]])]
    semaphore_sim.requests.clear()

    first = api.deployment_history(production["id"])
    second = api.deployment_history(production["id"], cursor_type="BEFORE", cursor_value=first.cursor_before)
    third = api.deployment_history(production["id"], cursor_type="BEFORE", cursor_value=second.cursor_before)

    assert [len(p.deployments) for p in (first, second, third)] == [10, 10, 3]
    assert [d["id"] for p in (first, second, third) for d in p.deployments] == expected
    assert first.cursor_after == 0 and third.cursor_before == 0
    assert second.cursor_after == micros_of(second.deployments[0])
    queries = [parse_qs(r.query) for r in semaphore_sim.requests]
    assert queries[1]["cursor_type"] == ["BEFORE"] and queries[1]["cursor_value"] == [str(first.cursor_before)]


def micros_of(deployment: dict) -> int:
    from providers.base.parse import timestamp

    return micros(timestamp(deployment["triggered_at"]))


def test_history_pages_forwards_with_after_cursors(api, semaphore_sim, project_id):
    production = target_named(semaphore_sim, project_id, "Production")
    history = semaphore_sim.dt_history[production["id"]]

    page = api.deployment_history(production["id"], cursor_type="AFTER", cursor_value=history[0]["us"] - 1)
    seen = list(page.deployments)
    while page.cursor_after:
        page = api.deployment_history(production["id"], cursor_type="AFTER", cursor_value=page.cursor_after)
        seen += page.deployments

    assert sorted(d["id"] for d in seen) == sorted(d["id"] for d in history)
    assert len(seen) == 23
    first_page_times = [micros_of(d) for d in seen[:10]]
    assert first_page_times == sorted(first_page_times, reverse=True)  # each page newest first
    assert max(first_page_times) < min(micros_of(d) for d in seen[10:])  # the oldest ones came first


def test_history_filters_apply_before_paging(api, semaphore_sim, project_id):
    production = target_named(semaphore_sim, project_id, "Production")
    history = semaphore_sim.dt_history[production["id"]]
    user = semaphore_sim.dt_users[0]

    by_user = all_history(api, production["id"], triggered_by=user)
    tags = all_history(api, production["id"], git_ref_type="tag")
    main = all_history(api, production["id"], git_ref_type="branch", git_ref_label="main")

    assert {d["triggered_by"] for d in by_user} == {user}
    assert len(by_user) == sum(1 for d in history if d["triggered_by"] == user)
    assert {d["id"] for d in tags} == {d["id"] for d in history if d["ref_type"] == "tag"}
    assert {d["id"] for d in main} == {
        d["id"] for d in history if d["ref_type"] == "branch" and d["ref_label"] == "main"
    }
    assert tags and by_user
    assert all_history(api, production["id"], git_ref_label="no-such-branch") == []


def test_a_cursor_value_that_is_not_a_number_is_refused(api, semaphore_sim, project_id):
    production = target_named(semaphore_sim, project_id, "Production")
    with pytest.raises(Rejected) as refused:
        api.get(
            f"{V1}/deployment_targets/{production['id']}/history", params={"cursor_type": "BEFORE", "cursor_value": "x"}
        )
    assert str(refused.value) == "Invalid value of 'cursor_value' param: \"x\" - needs to be integer."


# Sync --------------------------------------------------------------------------------------------
def test_a_sync_stores_targets_and_history_linked_to_builds(semaphore, semaphore_sim):
    run = sync_connection(semaphore.pk)

    assert run.status == SyncRun.Status.OK, run.error
    assert set(DeploymentTarget.objects.values_list("external_id", flat=True)) == set(semaphore_sim.targets)
    production = DeploymentTarget.objects.select_related("project").filter(name="Production").first()
    assert production.project.external_id == semaphore_sim.targets[production.external_id]["project_id"]
    assert (production.state, production.raw_state) == ("ready", "USABLE") and production.active
    assert Deployment.objects.count() == 2 * (23 + 7)
    for deployment in Deployment.objects.select_related("build"):
        assert deployment.build is not None, deployment.pipeline_external_id
        assert deployment.build.external_id == deployment.pipeline_external_id
        assert deployment.triggered_at is not None
        assert (deployment.state, deployment.raw_state) in (("started", "STARTED"), ("failed", "FAILED"))


def test_the_first_sync_backfills_only_the_configured_pages(db, semaphore_sim):
    connection = make_connection(semaphore_sim, options={"deployment_backfill_pages": 1})

    sync_connection(connection.pk)

    counts = {t.name: t.deployments.count() for t in DeploymentTarget.objects.filter(project__isnull=False)}
    assert set(counts.values()) == {10, 7}


def test_later_syncs_ask_only_for_what_is_newer(semaphore, semaphore_sim, project_id, clock):
    sync_connection(semaphore.pk)
    production = target_named(semaphore_sim, project_id, "Production")
    ppl_id = next(p.id for p in semaphore_sim.pipelines.values() if p.project_id == project_id)
    semaphore_sim.requests.clear()
    semaphore_sim.record_deployment(production["id"], ppl_id, "API", [{"name": "MESSAGE", "value": "ship it"}])

    run = sync_connection(semaphore.pk)

    history_calls = [parse_qs(r.query) for r in semaphore_sim.requests if r.path.endswith("/history")]
    assert history_calls and all(q["cursor_type"] == ["AFTER"] for q in history_calls)
    assert run.created == 1
    new = Deployment.objects.get(external_id=semaphore_sim.dt_history[production["id"]][-1]["id"])
    assert (new.state, new.raw_state) == ("pending", "PENDING")
    assert new.raw["env_vars"] == [{"name": "MESSAGE", "value": "ship it"}]

    clock.advance(START_SECONDS)
    sync_connection(semaphore.pk)

    new.refresh_from_db()
    assert new.state == "started"  # a pending deployment is read again until it settles
    assert Deployment.objects.count() == 2 * 30 + 1


def test_a_quiet_sync_writes_no_deployment_rows(semaphore, semaphore_sim):
    sync_connection(semaphore.pk)

    run = sync_connection(semaphore.pk)

    assert (run.created, run.updated) == (0, 0)


def test_deleted_targets_disappear_with_their_history(
    semaphore, semaphore_sim, project_id, api, believe_deletions_at_once
):
    sync_connection(semaphore.pk)
    staging = target_named(semaphore_sim, project_id, "Staging")
    api.delete_deployment_target(staging["id"], str(uuid.uuid4()))

    sync_connection(semaphore.pk)
    assert DeploymentTarget.objects.filter(external_id=staging["id"]).exists()  # one list is not enough
    sync_connection(semaphore.pk)

    assert not DeploymentTarget.objects.filter(external_id=staging["id"]).exists()
    assert not Deployment.objects.filter(raw__target_id=staging["id"]).exists()
    assert DeploymentTarget.objects.count() == 3


def test_a_project_whose_targets_are_forbidden_spoils_only_that_project(semaphore, semaphore_sim, project_id):
    semaphore_sim.denied_projects.add(project_id)

    run = sync_connection(semaphore.pk)

    assert run.status == SyncRun.Status.PARTIAL
    assert "Permission denied" in run.error
    assert DeploymentTarget.objects.exclude(project__external_id=project_id).count() == 2
    assert not DeploymentTarget.objects.filter(project__external_id=project_id).exists()


# Actions -----------------------------------------------------------------------------------------
def target_form_data(**overrides) -> dict:
    data = {
        "name": "Canary",
        "description": "Some traffic",
        "url": "https://canary.example.com",
        "subject_rules": "ROLE Admin\nUSER alice\nAUTO",
        "object_rules": "BRANCH EXACT main\nTAG REGEX ^v[0-9]+",
        "env_vars": "REGION=eu-west-1\nSECRET_KEY=hush",
        "files": "==> /etc/app/config.yml <==\nreplicas: 2\nzone: a\n==> /etc/app/empty <==\n",
        "unique_token": str(uuid.uuid4()),
    }
    data.update(overrides)
    return data


def test_creating_a_target_through_the_form_and_pressing_it_twice(semaphore, semaphore_sim, operator, project_id):
    sync_connection(semaphore.pk)
    project = Project.objects.get(external_id=project_id)
    form = TargetForm(data=target_form_data(), target=project)
    assert form.is_valid(), form.errors

    outcome = run_action(operator, semaphore, action("create_deployment_target"), project, form.cleaned_data)
    twice = run_action(operator, semaphore, action("create_deployment_target"), project, form.cleaned_data)

    assert outcome.ok and twice.ok, outcome.message
    assert "Canary created in" in outcome.message and "syncing" in outcome.message
    created = [t for t in semaphore_sim.targets.values() if t["name"] == "Canary"]
    assert len(created) == 1
    sim_target = created[0]
    assert sim_target["subject_rules"] == [  # the git login became the member's id
        {"type": "ROLE", "subject_id": "Admin"},
        {"type": "USER", "subject_id": semaphore_sim.members["alice"]},
        {"type": "AUTO", "subject_id": ""},
    ]
    assert sim_target["object_rules"] == [
        {"type": "BRANCH", "pattern": "main", "match_mode": "EXACT"},
        {"type": "TAG", "pattern": "^v[0-9]+", "match_mode": "REGEX"},
    ]
    assert {path: base64.b64decode(c) for path, c in sim_target["_files"].items()} == {
        "/etc/app/config.yml": b"replicas: 2\nzone: a\n",
        "/etc/app/empty": b"",
    }
    row = DeploymentTarget.objects.get(name="Canary")
    assert row.project == project and (row.state, row.raw_state) == ("syncing", "SYNCING")
    assert TargetForm(target=row).fields["subject_rules"].initial == "ROLE Admin\nUSER alice\nAUTO"
    logged = ActionLog.objects.filter(action="create_deployment_target").first().params
    # The audit log keeps the names of the variables and files, never their values.
    assert logged["env_vars"] == {"REGION": "(hidden)", "SECRET_KEY": "(hidden)"}
    assert logged["files"] == [["/etc/app/config.yml", "(hidden)"], ["/etc/app/empty", "(hidden)"]]
    assert logged["unique_token"] == "(hidden)"


def test_an_empty_rule_box_means_semaphores_defaults(adapter, semaphore, semaphore_sim, operator, project_id):
    sync_connection(semaphore.pk)
    project = Project.objects.get(external_id=project_id)
    form = TargetForm(data=target_form_data(subject_rules="", object_rules="", env_vars="", files=""), target=project)
    assert form.is_valid(), form.errors

    result = adapter.perform(action("create_deployment_target"), project, form.cleaned_data, operator)

    created = next(t for t in semaphore_sim.targets.values() if t["name"] == "Canary")
    assert created["subject_rules"] == [{"type": "ANY", "subject_id": ""}]
    assert {r["match_mode"] for r in created["object_rules"]} == {"ALL"}
    assert result.refresh.rows[0].fields["name"] == "Canary"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("subject_rules", "ADMIN x", "Line 1: 'ADMIN' is not one of USER, ROLE, GROUP, AUTO, ANY."),
        ("subject_rules", "ANY\nUSER", "Line 2: USER needs a user id or git login."),
        ("object_rules", "BRANCH EXACT", "Line 1: EXACT needs a pattern, e.g. BRANCH EXACT main."),
        ("object_rules", "BRANCH ALL main", "Line 1: ALL takes no pattern."),
        ("object_rules", "TAG REGEX (v", "Line 1: the pattern is not a valid regular expression"),
        ("object_rules", "COMMIT ALL", "Line 1: 'COMMIT' is not BRANCH, TAG or PR."),
        ("files", "no header\n==> /a <==\n", "Line 1: start each file with a line ==> /path/to/file <=="),
        ("env_vars", "1BAD=x", "Line 1: '1BAD' is not a valid variable name."),
        ("unique_token", "twice", "The form's request token is not a UUID"),
    ],
)
def test_the_target_form_explains_what_is_wrong(field, value, message):
    form = TargetForm(data=target_form_data(**{field: value}))

    assert not form.is_valid()
    assert any(e.startswith(message) for e in form.errors[field]), form.errors[field]


def test_each_new_form_carries_a_fresh_unique_token():
    first, second = TargetForm(), TargetForm()
    assert uuid.UUID(first["unique_token"].value()) != uuid.UUID(second["unique_token"].value())


def test_updating_a_target_starts_from_what_is_stored(semaphore, semaphore_sim, operator, project_id):
    sync_connection(semaphore.pk)
    staging = DeploymentTarget.objects.get(project__external_id=project_id, name="Staging")
    initial = TargetForm(target=staging)
    assert initial.fields["url"].initial == "https://staging.acme.example.com"
    assert initial.fields["subject_rules"].initial == "ANY"
    assert initial.fields["object_rules"].initial == "BRANCH ALL\nTAG ALL\nPR ALL"
    data = {name: initial.fields[name].initial for name in ("name", "description", "subject_rules", "object_rules")}
    form = TargetForm(
        data={**data, "url": "https://stage.example.com", "unique_token": str(uuid.uuid4())}, target=staging
    )
    assert form.is_valid(), form.errors

    outcome = run_action(operator, semaphore, action("update_deployment_target"), staging, form.cleaned_data)

    assert outcome.ok, outcome.message
    assert semaphore_sim.targets[staging.external_id]["url"] == "https://stage.example.com"
    assert semaphore_sim.targets[staging.external_id]["_env_vars"] == []  # left alone
    staging.refresh_from_db()
    assert staging.url == "https://stage.example.com" and staging.state == "syncing"


def test_deactivating_and_activating_a_target(semaphore, semaphore_sim, operator, project_id):
    sync_connection(semaphore.pk)
    production = DeploymentTarget.objects.get(project__external_id=project_id, name="Production")
    deactivate, activate = action("deactivate_deployment_target"), action("activate_deployment_target")
    assert deactivate.destructive and deactivate.offered_for(production) and not activate.offered_for(production)

    off = run_action(operator, semaphore, deactivate, production, {})

    production.refresh_from_db()
    assert off.ok and "promotions to it are blocked" in off.message
    assert (production.active, production.state, production.raw_state) == (False, "deactivated", "CORDONED")
    assert semaphore_sim.targets[production.external_id]["_cordoned"] is True

    on = run_action(operator, semaphore, activate, production, {})

    production.refresh_from_db()
    assert on.ok and production.active and production.state == "ready"


def test_deleting_a_target(adapter, semaphore, semaphore_sim, operator, project_id):
    sync_connection(semaphore.pk)
    staging = DeploymentTarget.objects.get(project__external_id=project_id, name="Staging")
    assert action("delete_deployment_target").destructive

    result = adapter.perform(action("delete_deployment_target"), staging, {}, operator)
    apply_batch(semaphore, result.refresh)

    assert staging.external_id not in semaphore_sim.targets
    assert not DeploymentTarget.objects.filter(pk=staging.pk).exists()
    assert not Deployment.objects.filter(target_id=staging.pk).exists()


def test_an_action_on_a_target_that_is_gone_says_so(adapter, semaphore, semaphore_sim, operator, project_id):
    sync_connection(semaphore.pk)
    staging = DeploymentTarget.objects.get(project__external_id=project_id, name="Staging")
    del semaphore_sim.targets[staging.external_id]

    with pytest.raises(NotFound, match="Not found"):
        adapter.perform(action("deactivate_deployment_target"), staging, {}, operator)


# Panel -------------------------------------------------------------------------------------------
def panel_for(adapter, project, rf, user, url: str = "", **params):
    request = rf.get(url or f"/semaphore/acme/project/{project.external_id}", params)
    request.user = user
    context = project_panel(adapter, project, request)
    html = render_to_string("providers/semaphore/project_panel.html", {"obj": project, **context}, request=request)
    return context, html


def test_the_project_panel_pages_through_the_history(adapter, semaphore, semaphore_sim, operator, project_id, rf):
    sync_connection(semaphore.pk)
    project = Project.objects.get(external_id=project_id)
    production = DeploymentTarget.objects.get(project=project, name="Production")

    panel, html = panel_for(adapter, project, rf, operator, dt=production.external_id)

    assert panel["selected"]["id"] == production.external_id
    assert len(panel["history"]) == 10 and panel["newer_url"] == "" and panel["newest_url"] == ""
    assert all(isinstance(d["build"], Build) for d in panel["history"])
    assert "dt_cursor=before" in panel["older_url"]
    assert 'data-action="deactivate_deployment_target"' in html and "History of Production" in html

    older = urlparse(panel["older_url"])
    panel2, _ = panel_for(adapter, project, rf, operator, url=f"/p?{older.query}")

    assert len(panel2["history"]) == 10 and panel2["newer_url"] and panel2["newest_url"]
    assert {d["id"] for d in panel["history"]}.isdisjoint(d["id"] for d in panel2["history"])
    newer = urlparse(panel2["newer_url"])
    panel3, _ = panel_for(adapter, project, rf, operator, url=f"/p?{newer.query}")
    assert [d["id"] for d in panel3["history"]] == [d["id"] for d in panel["history"]]


def test_the_project_panel_filters_the_history(adapter, semaphore, semaphore_sim, operator, project_id, rf):
    sync_connection(semaphore.pk)
    project = Project.objects.get(external_id=project_id)
    production = DeploymentTarget.objects.get(project=project, name="Production")
    user = semaphore_sim.dt_users[1]

    panel, html = panel_for(adapter, project, rf, operator, dt=production.external_id, dt_triggered_by=user)

    assert panel["history"] and {d["triggered_by_id"] for d in panel["history"]} == {user}
    assert {d["triggered_by"] for d in panel["history"]} == {"bob"}  # named by the target's subject rules
    assert f'value="{user}"' in html
    by_login, _ = panel_for(adapter, project, rf, operator, dt=production.external_id, dt_triggered_by="bob")
    assert [d["id"] for d in by_login["history"]] == [d["id"] for d in panel["history"]]
    tagged, _ = panel_for(adapter, project, rf, operator, dt=production.external_id, dt_ref_type="tag")
    expected = [d for d in semaphore_sim.dt_history[production.external_id] if d["ref_type"] == "tag"]
    assert len(tagged["history"]) == min(len(expected), 10)


def test_the_project_panel_survives_a_refused_history(adapter, semaphore, semaphore_sim, operator, project_id, rf):
    sync_connection(semaphore.pk)
    project = Project.objects.get(external_id=project_id)
    semaphore_sim.denied_projects.add(project_id)

    panel, html = panel_for(adapter, project, rf, operator, dt_cursor="sideways")

    # An operator reads the class of the refusal; Semaphore's own words are for admins.
    assert panel["history_error"].endswith("auth failed: the token lacks permission for this")
    assert "Production" in html and "Artifact retention" in html
    assert "Unknown history position" in html


def test_the_history_filter_form_reads_cursors():
    form = HistoryFilterForm({"dt_cursor": "after:1700000000000000"})
    assert form.is_valid() and form.cleaned_data["dt_cursor"] == ("AFTER", 1700000000000000)


def test_the_live_panels_load_through_the_panel_view(client, semaphore, operator, project_id):
    sync_connection(semaphore.pk)
    client.force_login(operator)
    production = DeploymentTarget.objects.get(project__external_id=project_id, name="Production")

    project_html = client.get(
        f"/semaphore/{semaphore.slug}/panel/project_panel/project/{project_id}",
        {"dt": production.external_id, "dt_ref_type": "branch"},
    ).content.decode()
    connection_html = client.get(f"/semaphore/{semaphore.slug}/panel/connection_panel/connection/-").content.decode()

    assert "History of Production" in project_html and 'data-action="deactivate_deployment_target"' in project_html
    assert '<option value="branch" selected>' in project_html
    assert "s1-linux-large" in connection_html and 'data-action="disable_agents"' in connection_html


# As Semaphore's server does it ----------------------------------------------------------------------
def test_an_api_edit_changes_only_the_fields_it_sends(client, semaphore, semaphore_sim, operator, project_id):
    sync_connection(semaphore.pk)
    production = DeploymentTarget.objects.get(project__external_id=project_id, name="Production")
    before = dict(semaphore_sim.targets[production.external_id])
    client.force_login(operator)

    response = client.post(
        f"/api/actions/semaphore/{semaphore.slug}/update_deployment_target/deployment_target/{production.external_id}",
        {"url": "https://prod.example.com"},
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    after = semaphore_sim.targets[production.external_id]
    assert after["url"] == "https://prod.example.com"
    for kept in ("name", "description", "bookmark_parameter1", "subject_rules", "object_rules", "_env_vars", "_files"):
        assert after[kept] == before[kept], kept
    assert after["bookmark_parameter1"] == "MESSAGE" and len(after["subject_rules"]) == 3
    assert "(url)" in response.json()["message"]


def test_secrets_are_shown_hidden_and_a_name_alone_keeps_its_value(api, semaphore, semaphore_sim, operator, project_id):
    created = api.create_deployment_target(
        project_id,
        {
            "name": "Vault",
            "env_vars": [{"name": "TOKEN", "value": "s3cret"}, {"name": "OLD", "value": "gone soon"}],
            "files": encoded_files([("/etc/key", "k")]),
        },
        unique_token=str(uuid.uuid4()),
    )
    described = api.deployment_target(created["id"], include_secrets=True)
    assert described["env_vars"] == [
        {"name": "TOKEN", "value": hidden("s3cret")},
        {"name": "OLD", "value": hidden("gone soon")},
    ]
    assert described["files"] == [{"path": "/etc/key", "content": hidden(base64.b64encode(b"k").decode())}]
    sync_connection(semaphore.pk)
    vault = DeploymentTarget.objects.get(external_id=created["id"])
    assert "env_vars" not in vault.raw and "s3cret" not in str(vault.raw)
    form = TargetForm(
        data={"env_vars": "TOKEN\nREGION=eu", "files": "==> /etc/key <== keep\n", "unique_token": str(uuid.uuid4())},
        target=vault,
    )
    assert form.is_valid(), form.errors

    outcome = run_action(operator, semaphore, action("update_deployment_target"), vault, form.cleaned_data)

    assert outcome.ok, outcome.message
    stored = semaphore_sim.targets[created["id"]]
    assert stored["_env_vars"] == [{"name": "TOKEN", "value": "s3cret"}, {"name": "REGION", "value": "eu"}]
    assert base64.b64decode(stored["_files"]["/etc/key"]) == b"k"
    assert "s3cret" not in outcome.message and "s3cret" not in str(ActionLog.objects.last().params)


def test_keeping_a_variable_the_target_does_not_have_is_refused_in_words(
    semaphore, semaphore_sim, operator, project_id
):
    sync_connection(semaphore.pk)
    staging = DeploymentTarget.objects.get(project__external_id=project_id, name="Staging")
    form = TargetForm(data={"env_vars": "NEVER_SET"}, target=staging)
    assert form.is_valid(), form.errors

    outcome = run_action(operator, semaphore, action("update_deployment_target"), staging, form.cleaned_data)

    assert not outcome.ok and "NEVER_SET has no current value to keep" in outcome.message


def test_an_unknown_git_login_in_the_subject_rules_is_refused_in_semaphores_words(
    semaphore, semaphore_sim, operator, project_id
):
    sync_connection(semaphore.pk)
    project = Project.objects.get(external_id=project_id)
    form = TargetForm(data=target_form_data(subject_rules="USER octocat"), target=project)
    assert form.is_valid(), form.errors

    outcome = run_action(operator, semaphore, action("create_deployment_target"), project, form.cleaned_data)

    assert not outcome.ok and outcome.message == "handle octocat can't be used as subject id"
    assert not any(t["name"] == "Canary" for t in semaphore_sim.targets.values())


@pytest.mark.parametrize(
    "pattern, matches",
    [
        ("release 3", lambda v: v == "release 3"),  # exact
        ("release 1*", lambda v: v.startswith("release 1")),  # a * pattern
        ("release (2|3)", lambda v: v in ("release 2", "release 3")),  # a regular expression, whole value
        ("release", lambda v: False),
    ],
)
def test_history_filters_on_bookmark_parameters_as_semaphore_does(api, semaphore_sim, project_id, pattern, matches):
    production = target_named(semaphore_sim, project_id, "Production")
    history = semaphore_sim.dt_history[production["id"]]

    found = all_history(api, production["id"], parameter1=pattern)

    expected = {d["id"] for d in history if matches(next(e["value"] for e in d["env_vars"]))}
    assert {d["id"] for d in found} == expected
    assert all_history(api, production["id"], parameter2="x") == []  # no second bookmark: nothing matches


def test_who_triggered_a_deployment_is_named_where_semaphore_says_who(semaphore, semaphore_sim, project_id):
    sync_connection(semaphore.pk)
    production = DeploymentTarget.objects.get(project__external_id=project_id, name="Production")
    staging = DeploymentTarget.objects.get(project__external_id=project_id, name="Staging")
    by_id = {d["id"]: d["triggered_by"] for d in semaphore_sim.dt_history[production.external_id]}
    logins = {user_id: login for login, user_id in semaphore_sim.members.items()}

    for deployment in production.deployments.all():
        raw = by_id[deployment.external_id]
        expected = "auto-promotion" if raw == "Pipeline Done request" else logins[raw]
        assert deployment.triggered_by == expected and deployment.raw["triggered_by"] == raw
    users = [d for d in staging.deployments.all() if d.raw["triggered_by"] != "Pipeline Done request"]
    assert users and {d.triggered_by for d in users} == {"a user"}  # Staging's rules name nobody


def test_the_panel_shows_who_changed_a_target_and_where_a_deployment_came_from(
    client, semaphore, semaphore_sim, operator, project_id
):
    sync_connection(semaphore.pk)
    client.force_login(operator)
    production = DeploymentTarget.objects.get(project__external_id=project_id, name="Production")
    first = semaphore_sim.dt_history[production.external_id][-1]

    data = client.get(api_panel_url(semaphore, "project_panel", "project", project_id)).json()["data"]
    html = client.get(
        f"/semaphore/{semaphore.slug}/panel/project_panel/project/{project_id}", {"dt": production.external_id}
    ).content.decode()

    target = next(t for t in data["targets"] if t["name"] == "Production")
    assert target["created_by"] == semaphore_sim.dt_users[0] and target["updated_by"]
    assert target["bookmarks"][0] == "MESSAGE"
    newest = data["history"][0]
    assert newest["switch_id"] == first["switch_id"] and newest["prev_pipeline_id"] == first["prev_pipeline_id"]
    assert newest["raw_state"] in ("STARTED", "FAILED") and newest["state"] in ("started", "failed")
    assert f'title="{semaphore_sim.dt_users[0]}"' in html  # the id behind "a user" / a name
    assert 'name="dt_parameter1"' in html and ">MESSAGE <input" in html
