"""The production path: the compose file stays valid, and gunicorn serves the app with
hashed, compressed static files, health checks and metrics."""

import gzip
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent


def compose(*args: str) -> subprocess.CompletedProcess:
    tool = shutil.which("docker-compose")
    if not tool:
        if os.environ.get("REQUIRE_COMPOSE"):
            pytest.fail("docker-compose is required to validate docker-compose.yml")
        pytest.skip("docker-compose is not installed")
    # The example leaves the two secrets empty on purpose: compose refuses to start without them.
    env = {**os.environ, "SECRET_KEY": "x", "FIELD_ENCRYPTION_KEY": "y"}
    return subprocess.run(
        [tool, "--env-file", ".env.example", "-f", "docker-compose.yml", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def test_the_compose_file_is_valid():
    result = compose("config")
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "beat"} <= set(services)
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name
        assert services[name]["healthcheck"]["test"], name
    assert services["migrate"]["command"] == "python manage.py migrate --noinput"
    assert services["web"]["environment"]["STATIC_MANIFEST"] == "true"


def test_compose_refuses_to_start_without_the_secrets():
    tool = shutil.which("docker-compose")
    if not tool:
        pytest.skip("docker-compose is not installed")
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY")}
    result = subprocess.run(
        [tool, "--env-file", ".env.example", "-f", "docker-compose.yml", "config", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, **headers) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def value_of(families: dict, name: str, **labels) -> float:
    return next(s.value for s in families[name].samples if all(s.labels.get(k) == v for k, v in labels.items()))


def test_gunicorn_serves_hashed_compressed_static_files_health_and_metrics(tmp_path):
    """The production path: collectstatic with the manifest storage, then gunicorn with two
    workers sharing their metrics through PROMETHEUS_MULTIPROC_DIR."""
    port = free_port()
    (tmp_path / "prometheus").mkdir()
    env = {
        **os.environ,
        "DASHBOARD_STATE_DIR": str(tmp_path),
        "STATIC_ROOT": str(tmp_path / "static"),
        "STATIC_MANIFEST": "true",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "METRICS_TOKEN": "t0ken",
    }
    # A database of its own that nothing has migrated, whatever the machine's databases hold.
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, capture_output=True
    )
    assert collected.returncode == 0, collected.stderr.decode()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [str(gunicorn), "dashboard.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, _, body = get(f"{base}/healthz?checks=database")
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.3)
        assert status == 200 and b'"ok"' in body

        # No beat has run against this fresh database: the full check says which part fails.
        status, _, body = get(f"{base}/healthz")
        assert status == 503 and json.loads(body)["failed"] == ["beat"]

        status, _, page = get(f"{base}/accounts/login/")
        assert status == 200
        stylesheet = re.search(rb'href="(/static/app\.[0-9a-f]{12}\.css)"', page)
        assert stylesheet, "pages link the hashed name of app.css"
        status, headers, body = get(base + stylesheet.group(1).decode(), **{"Accept-Encoding": "gzip"})
        assert status == 200 and headers.get("Content-Encoding") == "gzip"
        assert "immutable" in headers.get("Cache-Control", "")
        assert b"{" in gzip.decompress(body)

        assert get(f"{base}/metrics")[0] == 401
        for _ in range(4):  # requests spread over both workers
            get(f"{base}/accounts/login/")
        status, _, text = get(f"{base}/metrics", Authorization="Bearer t0ken")
        assert status == 200
        families = {f.name: f for f in text_string_to_metric_families(text.decode())}
        assert value_of(families, "ci_metrics_errors", part="database") == 1  # nothing migrated here
        logins = sum(
            s.value
            for s in families["django_http_requests_total_by_view_transport_method"].samples
            if s.labels.get("view") == "login" and s.name.endswith("_total")
        )
        assert logins >= 5, "every worker's requests are counted"
    finally:
        process.terminate()
        process.wait(timeout=10)


# The production environment documented in docs/security.md ("Production settings").
PRODUCTION_ENV = {
    "DEBUG": "false",
    "ALLOWED_HOSTS": "ci.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://ci.example.com",
    "SECURE_COOKIES": "true",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "TRUST_X_FORWARDED_PROTO": "true",
}


def deploy_check(tmp_path, extra: dict) -> tuple[int, str]:
    import secrets

    from cryptography.fernet import Fernet

    # Only what a production host sets: nothing the test run itself put in the environment.
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "DASHBOARD_STATE_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        **extra,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    return result.returncode, result.stdout + result.stderr


def warning_ids(output: str) -> set[str]:
    import re

    # The CSP check belongs to django-csp's own settings, checked with them.
    return {w for w in re.findall(r"\(([a-z_]+\.[WE]\d+)\)", output) if not w.startswith("csp.")}


def test_check_deploy_is_clean_with_the_documented_production_environment(tmp_path):
    code, output = deploy_check(tmp_path, PRODUCTION_ENV)
    assert code == 0, output
    assert warning_ids(output) == set(), output


def test_check_deploy_names_what_the_defaults_leave_open(tmp_path):
    _code, output = deploy_check(tmp_path, {"DEBUG": "false", "SECURE_COOKIES": "false"})
    assert {"security.W004", "security.W008", "security.W012", "security.W016"} <= warning_ids(output), output
