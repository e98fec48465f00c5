"""What the bench reads of the database server's CPU (dashboard/benchmarks/common.py):
work the server does shows in it, so a first sync's rows can say what the database cost
and what the machine allows."""

from __future__ import annotations

import pytest
from django.db import connection as db

from dashboard.benchmarks.common import database_cpu


@pytest.mark.django_db
def test_work_done_by_the_database_server_shows_in_its_cpu():
    if db.vendor != "postgresql":
        assert database_cpu() is None  # SQLite works inside the sync: nothing apart to count
        return
    before = database_cpu()
    if before is None:
        pytest.skip("the PostgreSQL server runs on another machine")
    with db.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM generate_series(1, 5000000) AS n WHERE n % 7 = 3")
    assert database_cpu() - before >= 0.1  # ~0.5 s of the server's CPU on a slow core
