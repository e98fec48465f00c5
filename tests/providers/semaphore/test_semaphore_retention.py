"""Semaphore artifact retention policies (docs/providers/semaphore.md, "Artifact
retention"): double-star glob matching and the first-match rule, the rule checks of our
form, the client against the simulator, the sync and the configure action, and the
panel's "which rule applies" answer."""

import uuid

import pytest
from django import forms
from django.http import QueryDict
from django.template.loader import render_to_string

from dashboard.actions import run_action
from dashboard.models import Project, RetentionPolicy, SyncRun
from dashboard.sync import sync_connection
from providers.base.errors import NotFound, PermissionDenied, Rejected
from providers.semaphore.actions.retention import RetentionForm, parse_rules
from providers.semaphore.adapter import SemaphoreAdapter
from providers.semaphore.globs import first_match, glob_match
from providers.semaphore.panels import project_panel, retention_context

from .support import action

DOCS_POLICY = {
    "project": [{"selector": "/**/*", "age": "1 year"}],
    "workflow": [],
    "job": [{"selector": "/screenshots/**/*.png", "age": "2 weeks"}, {"selector": "/logs/**/*.txt", "age": "3 months"}],
}


@pytest.fixture
def project_ids(semaphore_sim) -> list[str]:
    return list(semaphore_sim.projects)


# Globs -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("selector", "path", "matches"),
    [
        ("/**/*", "x.log", True),
        ("/**/*", "agent/job_logs.txt", True),
        ("/logs/**/*.txt", "logs/a.txt", True),  # ** may stand for no directory at all
        ("/logs/**/*.txt", "logs/2024/05/a.txt", True),  # ... or for several
        ("/logs/**/*.txt", "logs/a.txt.gz", False),
        ("/logs/**/*.txt", "other/logs/a.txt", False),
        ("/logs/*.txt", "logs/a.txt", True),
        ("/logs/*.txt", "logs/2024/a.txt", False),  # * does not cross /
        ("/*.txt", "a/b.txt", False),
        ("/logs/**", "logs/any/thing", True),
        ("/screenshots/**/*.png", "/screenshots/login/fail.png", True),  # a leading / on the path is fine too
        ("/a?c/*", "abc/x", True),
        ("/a?c/*", "a/c/x", False),  # ? does not match /
        ("/build/[!t]*", "build/out", True),
        ("/build/[!t]*", "build/tmp", False),
        ("/{docs,site}/**/*.html", "site/en/index.html", True),
        ("/{docs,site}/**/*.html", "blog/index.html", False),
        ("/reports/coverage.xml", "reports/coverage.xml", True),
        ("/reports/coverage.xml", "reports/coverageXxml", False),  # a dot is a dot
    ],
)
def test_double_star_globs_match_as_semaphore_describes_them(selector, path, matches):
    assert glob_match(selector, path) is matches


def test_the_first_matching_rule_wins():
    rules = [
        {"selector": "/logs/debug/**/*", "age": "1 week"},
        {"selector": "/logs/**/*", "age": "3 months"},
        {"selector": "/**/*", "age": "1 year"},
    ]

    assert first_match("logs/debug/x/trace.txt", rules) == (1, rules[0])
    assert first_match("logs/app.txt", rules) == (2, rules[1])
    assert first_match("build/app.bin", rules) == (3, rules[2])
    assert first_match("anything", []) is None


# Rules in the form ---------------------------------------------------------------------------------
def test_ages_take_one_to_twelve_weeks_months_or_years_in_either_form():
    rules = parse_rules("/a 1 week\n/b 2 weeks\n\n/c 12 months\n/d 4 years\n/e 1 weeks\n/f 3   months", "job")

    assert [r["age"] for r in rules] == ["1 week", "2 weeks", "12 months", "4 years", "1 weeks", "3 months"]
    assert rules[0] == {"selector": "/a", "age": "1 week"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("/logs/** 13 weeks", "invalid age '13 weeks'"),
        ("/logs/** 0 months", "invalid age '0 months'"),
        ("/logs/** 2 days", "invalid age '2 days'"),
        ("/logs/**", "the age is missing"),
        ("3 months", "a selector glob is required"),
    ],
)
def test_a_bad_rule_is_reported_with_its_line(line, message):
    with pytest.raises(forms.ValidationError) as refused:
        parse_rules(f"/ok/** 1 year\n\n{line}", "workflow")

    (error,) = refused.value.messages
    assert error.startswith(f"Line 3 of the workflow rules ({line!r}): ")
    assert message in error


def test_the_form_needs_one_rule_somewhere_and_names_every_bad_line():
    empty = RetentionForm(data={"project_rules": "", "workflow_rules": " \n", "job_rules": ""})
    bad = RetentionForm(data={"job_rules": "/a 13 weeks\n/b 2 days"})

    assert not empty.is_valid() and "at least one rule" in empty.non_field_errors()[0]
    assert not bad.is_valid()
    assert [e[:29] for e in bad.errors["job_rules"]] == [
        "Line 1 of the job rules ('/a ",
        "Line 2 of the job rules ('/b ",
    ]


# Client ------------------------------------------------------------------------------------------
def test_a_policy_is_described_and_a_project_without_one_has_no_rules(api, project_ids):
    configured = api.retention_policy(project_ids[0])
    empty = api.retention_policy(project_ids[1])

    assert configured["job_level_retention_policies"] == DOCS_POLICY["job"]
    assert configured["project_level_retention_policies"] == DOCS_POLICY["project"]
    assert empty == {
        "project_level_retention_policies": [],
        "workflow_level_retention_policies": [],
        "job_level_retention_policies": [],
    }


def test_configuring_replaces_every_level(api, semaphore_sim, project_ids):
    saved = api.configure_retention_policy(project_ids[0], {"workflow": [{"selector": "/**/*", "age": "6 months"}]})

    assert saved["workflow_level_retention_policies"] == [{"selector": "/**/*", "age": "6 months"}]
    assert saved["job_level_retention_policies"] == [] and saved["project_level_retention_policies"] == []
    assert api.retention_policy(project_ids[0]) == saved


def test_semaphore_refuses_bad_rules_in_its_own_words(api, project_ids):
    with pytest.raises(Rejected) as age:
        api.configure_retention_policy(project_ids[0], {"job": [{"selector": "/**/*", "age": "13 weeks"}]})
    with pytest.raises(Rejected) as nothing:
        api.configure_retention_policy(project_ids[0], {})
    with pytest.raises(Rejected) as selector:
        api.configure_retention_policy(project_ids[0], {"job": [{"selector": "", "age": "1 week"}]})

    assert str(age.value) == "invalid 'age' value: '13 weeks' - valid examples: 1 week, 2 weeks, 3 months, 4 years"
    assert str(nothing.value) == "at least one retention policy configuration must be defined"
    assert str(selector.value) == "the 'selector' field must be a non-empty string"


def test_unknown_and_forbidden_projects(api, semaphore_sim, project_ids):
    with pytest.raises(NotFound, match="Not found"):
        api.retention_policy(str(uuid.uuid4()))
    semaphore_sim.denied_projects.add(project_ids[1])
    with pytest.raises(PermissionDenied, match="Permission denied"):
        api.retention_policy(project_ids[1])
    with pytest.raises(PermissionDenied):
        api.configure_retention_policy(project_ids[1], {"job": [{"selector": "/**/*", "age": "1 week"}]})


# Sync and actions --------------------------------------------------------------------------------
def test_a_sync_stores_each_projects_policy(semaphore, project_ids):
    run = sync_connection(semaphore.pk)

    assert run.status == SyncRun.Status.OK, run.error
    policies = {p.external_id: p for p in RetentionPolicy.objects.select_related("project")}
    assert policies[project_ids[0]].rules == DOCS_POLICY
    assert policies[project_ids[0]].project.external_id == project_ids[0]
    assert policies[project_ids[1]].rules == {"project": [], "workflow": [], "job": []}


def test_configuring_through_the_form_changes_semaphore_and_the_stored_policy(
    semaphore, semaphore_sim, operator, project_ids
):
    sync_connection(semaphore.pk)
    project = Project.objects.get(external_id=project_ids[1])
    form = RetentionForm(data={"job_rules": "/logs/**/*.txt 3 months\n/**/* 1 year"}, target=project)
    assert form.is_valid(), form.errors

    outcome = run_action(operator, semaphore, action("configure_retention"), project, form.cleaned_data)

    assert outcome.ok and outcome.message == "Artifact retention rules saved (project 0, workflow 0, job 2)."
    assert semaphore_sim.retention_policies[project.external_id]["job"][0] == {
        "selector": "/logs/**/*.txt",
        "age": "3 months",
    }
    policy = RetentionPolicy.objects.get(project=project)
    assert [r["selector"] for r in policy.rules["job"]] == ["/logs/**/*.txt", "/**/*"]


def test_editing_starts_from_the_stored_rules(semaphore, semaphore_sim, operator, project_ids):
    sync_connection(semaphore.pk)
    policy = RetentionPolicy.objects.get(external_id=project_ids[0])
    initial = RetentionForm(target=policy)
    assert initial.fields["job_rules"].initial == "/screenshots/**/*.png 2 weeks\n/logs/**/*.txt 3 months"
    assert initial.fields["project_rules"].initial == "/**/* 1 year"
    data = {f"{level}_rules": initial.fields[f"{level}_rules"].initial for level in ("project", "workflow", "job")}
    form = RetentionForm(data={**data, "workflow_rules": "/**/* 2 weeks"}, target=policy)
    assert form.is_valid(), form.errors

    outcome = run_action(operator, semaphore, action("edit_retention"), policy, form.cleaned_data)

    assert outcome.ok, outcome.message
    policy.refresh_from_db()
    assert policy.rules["workflow"] == [{"selector": "/**/*", "age": "2 weeks"}]
    assert policy.rules["job"] == DOCS_POLICY["job"]


# Panel -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "level", "index"),
    [
        ("logs/build/output.txt", "job", 2),
        ("screenshots/login/fail.png", "job", 1),
        ("screenshots/login/fail.jpg", "job", None),
        ("anything/at/all", "project", 1),
        ("anything", "workflow", None),
    ],
)
def test_the_panel_says_which_rule_applies_to_a_path(semaphore, project_ids, rf, path, level, index):
    sync_connection(semaphore.pk)
    project = Project.objects.get(external_id=project_ids[0])

    check = retention_context(project, QueryDict(f"rp_path={path}&rp_level={level}"))["check"]

    assert check["index"] == index and check["level"] == level


def test_the_project_panel_shows_the_rules_and_the_answer(semaphore, project_ids, rf, operator):
    sync_connection(semaphore.pk)
    project = Project.objects.get(external_id=project_ids[0])
    request = rf.get("/", {"rp_path": "logs/x/y.txt", "rp_level": "job"})
    request.user = operator
    adapter = SemaphoreAdapter(semaphore)
    try:
        context = project_panel(adapter, project, request)
    finally:
        adapter.close()

    html = render_to_string("providers/semaphore/project_panel.html", {"obj": project, **context}, request=request)

    assert "<code>/screenshots/**/*.png</code> deleted after 2 weeks" in html
    assert "Rule 2 of the job level applies to <code>logs/x/y.txt</code>" in html
    assert 'data-action="edit_retention"' in html
