"""The audit log keeps what its retention settings say, pruned as new entries come."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from dashboard import audit
from dashboard.models import ActionLog


def entry(n: int) -> ActionLog:
    return ActionLog(username="otto", action="rerun", target=f"build:b{n}", ok=True)


def test_only_the_newest_entries_are_kept(db, settings, viewer_client):
    settings.AUDIT_KEEP_DAYS, settings.AUDIT_KEEP_ROWS = 0, 5
    for n in range(12):
        audit.record(entry(n))
    assert set(ActionLog.objects.values_list("target", flat=True)) == {f"build:b{n}" for n in range(7, 12)}
    page = viewer_client.get(reverse("activity")).content.decode()
    assert "build:b11" in page and "build:b6" not in page


def test_entries_older_than_the_kept_days_go(db, settings):
    settings.AUDIT_KEEP_DAYS, settings.AUDIT_KEEP_ROWS = 30, 0
    old = ActionLog.objects.create(username="otto", action="rerun", target="build:old")
    ActionLog.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    recent = ActionLog.objects.create(username="otto", action="rerun", target="build:recent")
    ActionLog.objects.filter(pk=recent.pk).update(created_at=timezone.now() - timedelta(days=29))
    audit.record(entry(1))
    assert sorted(ActionLog.objects.values_list("target", flat=True)) == ["build:b1", "build:recent"]


def test_zero_keeps_everything(db, settings):
    settings.AUDIT_KEEP_DAYS, settings.AUDIT_KEEP_ROWS = 0, 0
    for n in range(3):
        audit.record(entry(n))
    assert ActionLog.objects.count() == 3
