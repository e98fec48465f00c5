"""``LOG_FORMAT=json``: every log line is one JSON object a log collector can read."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = """
import django, logging
django.setup()
logging.getLogger("dashboard.sync").warning("sync of %s failed", "acme", extra={"connection": "acme", "requests": 3})
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("dashboard.tasks").exception("task crashed")
"""


def run(tmp_path, **env) -> subprocess.CompletedProcess:
    environ = {**os.environ, "DASHBOARD_STATE_DIR": str(tmp_path), **env}
    environ["DJANGO_SETTINGS_MODULE"] = "dashboard.settings"
    return subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=environ, capture_output=True, text=True)


def test_json_logs_are_one_object_per_line(tmp_path):
    result = run(tmp_path, LOG_FORMAT="json")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    first, second = lines
    assert first["level"] == "WARNING" and first["logger"] == "dashboard.sync"
    assert first["message"] == "sync of acme failed"
    assert first["connection"] == "acme" and first["requests"] == 3
    assert first["time"].endswith("+00:00") and "T" in first["time"]
    assert second["level"] == "ERROR" and "ZeroDivisionError" in second["exc_info"]


def test_plain_logs_by_default(tmp_path):
    result = run(tmp_path)
    assert "WARNING dashboard.sync: sync of acme failed" in result.stderr


def test_an_unknown_format_is_named_at_start(tmp_path):
    result = run(tmp_path, LOG_FORMAT="xml")
    assert result.returncode != 0 and "LOG_FORMAT must be 'plain' or 'json'" in result.stderr
