"""What a web process does once loaded (dashboard/wsgi.py): its views are imported before
the first request, and what it loaded is kept out of the garbage collector's full
collections."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import gc, json, sys
import dashboard.wsgi
print(json.dumps({"frozen": gc.get_freeze_count(), "views": "dashboard.views.builds" in sys.modules}))
"""


def test_the_web_application_loads_its_views_and_freezes_what_it_loaded():
    # A process of its own: freezing is for the whole life of a process.
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["views"], "views are imported at start, not on the first request"
    assert found["frozen"] > 10_000, found
