"""Secret values never reach the audit log, the Activity page, the API, the application
log or an error report, whatever shape they arrive in."""

import html
import json
import logging
import string
from urllib.parse import quote

import pytest
from django.test import RequestFactory
from django.urls import reverse
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from dashboard.actions import loggable, run_action
from dashboard.models import ActionLog, Build, Project
from dashboard.secrets import (
    MASK,
    RedactingFilter,
    SecretsExceptionReporterFilter,
    looks_secret,
    mask_params,
    scrub_text,
)
from dashboard.sync import sync_connection
from providers.registry import KINDS, adapter_class


def all_actions():
    return [(kind, action) for kind in KINDS for action in adapter_class(kind).actions]


# Names ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "AWS_SECRET_ACCESS_KEY",
        "deploy_token",
        "GITHUB_TOKEN",
        "db_password",
        "PASSWD",
        "apiKey",
        "SSH_PRIVATE_KEY",
        "gcp-credentials",
        "Authorization",
        "NPM_AUTH",
        "client.secret",
        "sentry_dsn",
    ],
)
def test_credential_names_are_recognised(name):
    assert looks_secret(name) and looks_secret(name.lower()) and looks_secret(name.upper())


@pytest.mark.parametrize("name", ["BRANCH", "bypass", "name", "reference", "machine_type", "commands"])
def test_ordinary_names_are_not(name):
    assert not looks_secret(name)


# Shapes ---------------------------------------------------------------------------------------
def test_nested_env_var_lists_keep_names_and_mask_values():
    masked = mask_params(
        {
            "env_vars": [
                {"name": "AWS_SECRET_ACCESS_KEY", "value": "wJalrXUtnFEMI"},
                {"name": "REGION", "value": "eu"},
            ],
            "variables": {"deploy_token": "dt-123456", "tag": "v1"},
            "text": "BRANCH=main\nexport NPM_TOKEN=npm_abcdef\n",
            "commands": ["curl -H 'Authorization: Bearer abcdefgh1234' https://bob:hunter22@example.com/x"],
        }
    ).params
    assert masked["env_vars"] == [
        {"name": "AWS_SECRET_ACCESS_KEY", "value": MASK},
        {"name": "REGION", "value": "eu"},
    ]
    assert masked["variables"] == {"deploy_token": MASK, "tag": "v1"}
    assert masked["text"] == f"BRANCH=main\nexport NPM_TOKEN={MASK}\n"
    text = json.dumps(masked)
    for secret in ("wJalrXUtnFEMI", "dt-123456", "npm_abcdef", "abcdefgh1234", "hunter22"):
        assert secret not in text


def test_declared_secret_fields_keep_names_only():
    masked = mask_params(
        {"env_vars": {"REGION": "eu-west-1"}, "files": [("/etc/app.conf", "anything")], "name": "x"},
        ["env_vars", "files"],
    ).params
    assert masked == {"env_vars": {"REGION": MASK}, "files": [["/etc/app.conf", MASK]], "name": "x"}


def test_masking_twice_changes_nothing():
    once = mask_params({"a": "TOKEN=x1234 and https://u:p4ss@h/", "api_key": "k"}).params
    assert mask_params(once).params == once


def test_well_known_token_shapes_are_masked_anywhere():
    text = scrub_text(
        "ghp_0123456789abcdefghijABCDEFGHIJ and AKIAABCDEFGHIJKLMNOP and "
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl and\n"
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"
    )
    for fragment in ("ghp_0123", "AKIAABCD", "eyJzdWIi", "MIIEow"):
        assert fragment not in text


def test_a_real_action_is_audited_with_names_kept_and_values_masked(operator, semaphore, semaphore_sim):
    sync_connection(semaphore.pk)
    project = Project.objects.filter(connection=semaphore).first()
    action = adapter_class("semaphore").action("create_job")
    secret = "real-secret-value-42"
    outcome = run_action(
        operator,
        semaphore,
        action,
        project,
        {
            "name": "build",
            "machine_type": "e1-standard-2",
            "os_image": "",
            "commands": ["echo hi"],
            "env_vars": {"AWS_SECRET_ACCESS_KEY": secret},
            "secrets": [],
            "execution_time_limit": 3600,
        },
    )
    entry = ActionLog.objects.get()
    assert entry.params["env_vars"] == {"AWS_SECRET_ACCESS_KEY": MASK}
    assert secret not in json.dumps(entry.params) + entry.answer
    assert outcome.ok or secret not in outcome.message


# Logs and error reports ------------------------------------------------------------------------
def test_the_application_log_masks_credentials():
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "calling %s with %s", ("https://u:pw1234@h/", "TOKEN=abc123"), None
    )
    assert RedactingFilter().filter(record)
    message = record.getMessage()
    assert "pw1234" not in message and "abc123" not in message and "https://" in message


def test_error_reports_mask_post_fields_and_local_variables():
    request = RequestFactory().post("/x", {"env_vars": "AWS_SECRET_ACCESS_KEY=abcd1234", "api_token": "t0k3n"})
    reporter = SecretsExceptionReporterFilter()
    post = reporter.get_post_parameters(request)
    assert "abcd1234" not in post["env_vars"] and post["api_token"] != "t0k3n"

    def failing(params, password):
        raise RuntimeError

    try:
        failing({"variables": {"deploy_token": "dt-9999"}}, "hunter22")
    except RuntimeError as exc:
        frame = exc.__traceback__.tb_next.tb_frame
    shown = repr(reporter.get_traceback_frame_variables(request, frame))
    assert "dt-9999" not in shown and "hunter22" not in shown


# The property: every action of every provider, every output ------------------------------------
SECRET_ALPHABET = string.ascii_letters + string.digits + "!#$%()*+,-./:;<>?@[]^_{|}~"
# Markers that appear nowhere else: any leaked head or tail of a secret carries one.
START, END = "Zq7", "Qz9"
secrets_ = st.text(SECRET_ALPHABET, min_size=8, max_size=40).map(lambda s: START + s + END)
affixes = st.sampled_from(["", "AWS_", "deploy_", "GITHUB_", "db.", "Npm", "x-", "MY_APP_"])
cores = st.sampled_from(
    [
        "TOKEN",
        "token",
        "SECRET",
        "Secret",
        "KEY",
        "key",
        "PASSWORD",
        "passwd",
        "CREDENTIAL",
        "PRIVATE",
        "AUTH",
        "ApiKey",
        "ACCESS_KEY",
        "private_key",
        "auth_header",
        "credentials",
    ]
)
suffixes = st.sampled_from(["", "_ID", "_VALUE", "S", "_1", "Json"])
secret_names = st.builds(lambda a, c, s: a + c + s, affixes, cores, suffixes).filter(looks_secret)


@st.composite
def secret_shapes(draw, secret: str):
    """One of the shapes a secret arrives in, with ``secret`` somewhere inside."""
    name = draw(secret_names)
    shape = draw(st.sampled_from(["env_list", "env_dict", "lines", "nested", "url", "flag", "pairs"]))
    if shape == "env_list":
        return [{"name": "REGION", "value": "eu"}, {"name": name, "value": secret}]
    if shape == "env_dict":
        return {"BRANCH": "main", name: secret}
    if shape == "lines":
        prefix = draw(st.sampled_from(["", "export ", "  "]))
        sep = draw(st.sampled_from(["=", " = ", ": "]))
        return f"BRANCH=main\n{prefix}{name}{sep}{secret}\n# done"
    if shape == "nested":
        return {"outer": [{"config": {name: secret}}]}
    if shape == "url":
        user = draw(st.text(string.ascii_lowercase, min_size=1, max_size=8))
        # A password in a URL is percent-encoded.
        return f"git clone https://{user}:{quote(secret, safe='')}@git.example.com/repo.git"
    if shape == "flag":
        return f"deploy --{name.lower().replace('_', '-')}={secret} --verbose"
    return [[name, secret]]


@st.composite
def action_params(draw, action):
    """Parameters for ``action``: its form's fields and declared secret fields, and
    credential-named extras, each holding the secret in some shape."""
    secret = draw(secrets_)
    fields = list(action.form.base_fields) if action.form else []
    params = {}
    for name in [*fields, *action.secret_fields]:
        if name in action.secret_fields:
            params[name] = draw(st.one_of(st.just(secret), secret_shapes(secret)))
        else:
            params[name] = draw(st.one_of(st.just("plain value"), secret_shapes(secret)))
    params[draw(secret_names)] = secret
    params["extra"] = draw(secret_shapes(secret))
    return secret, params


def _leaks(secret: str, text: str) -> bool:
    """The secret, escaped or not, or any piece of it that starts or ends it (a value cut
    short by truncation or masked only in part) is in ``text``."""
    forms = {secret, html.escape(secret), json.dumps(secret)[1:-1], quote(secret, safe="")}
    return any(f in text for f in forms) or START in text or END in text


@pytest.fixture
def audit_world(semaphore):
    sync_connection(semaphore.pk)
    return semaphore, Build.objects.filter(connection=semaphore).first()


@settings(
    max_examples=20,
    deadline=None,
    database=None,
    # A failing example is printed whole; shrinking 33 actions' parameters takes minutes.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_secret_of_any_action_reaches_any_output(data, audit_world, viewer, client):
    connection, build = audit_world
    client.force_login(viewer)
    secrets_seen = []
    entries = []
    for kind, action in all_actions():
        secret, params = data.draw(action_params(action), label=f"{kind}.{action.name}")
        secrets_seen.append(secret)
        masked = mask_params(params, action.secret_fields)
        assert masked.params == loggable(params, action)
        entries.append(
            ActionLog(
                username="otto",
                connection=connection,
                action=action.name,
                target=f"{action.target}:{build.external_id}",
                params=loggable(params, action),
                ok=False,
                answer=masked.redact(f"The provider refused: value {secret} is not valid"),
            )
        )
    ActionLog.objects.bulk_create(entries)
    try:
        stored = json.dumps(list(ActionLog.objects.values("params", "answer")))
        pages, url = [], reverse("activity")
        while url:
            response = client.get(url)
            assert response.status_code == 200
            pages.append(response.content.decode())
            cursor = response.context["page"].next_cursor
            url = f"{reverse('activity')}?after={cursor}" if cursor else None
        api = client.get(reverse("api-action-log"), {"page_size": 200})
        assert api.status_code == 200
        api_body = api.content.decode()
        assert len(api.json()["results"]) == len(entries)
        for secret in secrets_seen:
            assert not _leaks(secret, stored), secret
            assert not _leaks(secret, "".join(pages)), secret
            assert not _leaks(secret, api_body), secret
    finally:
        ActionLog.objects.all().delete()


def test_rows_stored_before_masking_are_masked_by_the_migration(db, semaphore):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("dashboard.migrations.0010_mask_stored_action_params")
    entry = ActionLog.objects.create(
        username="otto",
        connection=semaphore,
        action="create_job",
        target="project:x",
        params={"env_vars": {"AWS_SECRET_ACCESS_KEY": "old-secret-1"}, "name": "job"},
        answer="refused old-secret-1",
    )
    migration.mask_stored(apps, None)
    entry.refresh_from_db()
    assert entry.params == {"env_vars": {"AWS_SECRET_ACCESS_KEY": MASK}, "name": "job"}
    assert "old-secret-1" not in entry.answer
