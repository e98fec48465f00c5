"""Panel contexts made plain for the API."""

from datetime import UTC, datetime, timedelta

from django import forms
from django.utils.safestring import mark_safe

from dashboard.api.panels import plain


class AForm(forms.Form):
    name = forms.CharField()


def test_times_become_iso_forms_and_html_are_left_out():
    moment = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    data = plain(
        {
            "when": moment,
            "took": timedelta(seconds=90),
            "form": AForm(),
            "stdout_html": "<b>x</b>",
            "rendered": mark_safe("<i>y</i>"),
            "rows": [{"n": 1}, (2, 3)],
            "stdout": "plain text",
        }
    )

    assert data == {
        "when": "2026-05-01T12:00:00+00:00",
        "took": 90.0,
        "rows": [{"n": 1}, [2, 3]],
        "stdout": "plain text",
    }
