"""The production path: the compose file stays valid and gunicorn serves the app."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_compose_file_is_valid():
    tool = shutil.which("docker-compose")
    if not tool:
        if os.environ.get("REQUIRE_COMPOSE"):
            pytest.fail("docker-compose is required to validate docker-compose.yml")
        pytest.skip("docker-compose is not installed")
    env = {**os.environ, "SECRET_KEY": "x", "FIELD_ENCRYPTION_KEY": "y"}
    result = subprocess.run(
        [tool, "-f", "docker-compose.yml", "config", "-q"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    services = subprocess.run(
        [tool, "-f", "docker-compose.yml", "config", "--services"], cwd=ROOT, env=env, capture_output=True, text=True
    ).stdout.split()
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorn_serves_the_health_check(tmp_path):
    port = free_port()
    env = {**os.environ, "DASHBOARD_STATE_DIR": str(tmp_path)}
    env.setdefault("DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [str(gunicorn), "dashboard.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    assert response.status == 200
                    assert b'"ok"' in response.read()
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.3)
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
