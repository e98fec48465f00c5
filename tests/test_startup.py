"""What a web process does once loaded (dashboard/wsgi.py): its views are imported before
the first request, and what it loaded is kept out of the garbage collector's full
collections."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import gc, json, sys
import dashboard.wsgi
from providers.registry import KINDS
print(json.dumps({
    "frozen": gc.get_freeze_count(),
    "views": "dashboard.views.builds" in sys.modules,
    "adapters": all(f"providers.{kind}.adapter" in sys.modules for kind in KINDS),
    "redis": "redis" in sys.modules,
}))
"""


def loaded(**environment: str) -> dict:
    # A process of its own: freezing is for the whole life of a process.
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, **environment},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_web_application_loads_its_views_and_freezes_what_it_loaded():
    found = loaded()
    assert found["views"], "views are imported at start, not on the first request"
    assert found["adapters"], "every provider's adapter is loaded at start, not by the first sync"
    assert found["frozen"] > 10_000, found


def test_the_cache_client_is_loaded_at_start_and_a_redis_that_is_down_does_not_stop_it():
    # Port 9 (discard) on loopback: nothing listens there.
    found = loaded(REDIS_URL="redis://127.0.0.1:9/0")
    assert found["redis"], "the Redis client is loaded at start, not by the first sync or page"
    assert found["frozen"] > 10_000, found
