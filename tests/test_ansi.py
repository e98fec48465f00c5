"""Build output cannot plant links or terminal tricks in the log view, and provider URLs
become links only when they are http(s)."""

import pytest
from django.urls import reverse

from dashboard.ansi import strip_terminal_escapes, to_html
from dashboard.models import Build
from dashboard.sync import sync_connection
from dashboard.templatetags.security_tags import safe_http_url


def test_an_osc8_hyperlink_shows_its_text_and_links_only_to_what_it_shows():
    html = to_html("\x1b]8;;https://evil.example/login\x1b\\https://ci.example.com/login\x1b]8;;\x1b\\ done")
    assert "evil.example" not in html
    assert '<a href="https://ci.example.com/login"' in html and ">https://ci.example.com/login</a>" in html


@pytest.mark.parametrize(
    "text",
    [
        "\x1b]8;;javascript:alert(1)\x07click me\x1b]8;;\x07",
        "\x1b]8;id=1;https://evil.example\x1b\\click me\x1b]8;;\x1b\\",
        "\x9d8;;https://evil.example\x9cclick me\x9d8;;\x9c",
        "\x1b]8;;https://evil.example\x07click me",  # never closed
    ],
)
def test_hyperlink_escapes_in_any_spelling_become_plain_text(text):
    html = to_html(text)
    assert "click me" in html and "<a" not in html and "evil" not in html and "javascript" not in html


def test_other_terminal_escapes_are_dropped_and_colours_kept():
    text = (
        "\x1b]0;window title\x07\x1b[2K\x1b[1A\x1bPq#0;payload\x1b\\\x1b_apc\x1b\\"
        "\x1b(B\x1b7\x07\x08ok \x1b[31mred\x1b[0m"
    )
    assert strip_terminal_escapes(text) == "ok \x1b[31mred\x1b[0m"
    html = to_html(text)
    assert "window title" not in html and "payload" not in html and '<span class="ansi31">red</span>' in html


def test_only_http_urls_written_in_the_log_become_links():
    html = to_html('open https://ci.example.com/a?x=1&y=2, not javascript:alert(1) or "data:text/html,x" <b>')
    assert html.count("<a ") == 1
    assert '<a href="https://ci.example.com/a?x=1&amp;y=2"' in html and "</a>, not" in html
    assert "&lt;b&gt;" in html


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,x",
        "vbscript:x",
        "//evil.example/x",
        "/relative",
        "https:",
        "https:///nohost",
    ],
)
def test_safe_url_refuses_anything_but_absolute_http(url):
    assert safe_http_url(url) == ""


def test_safe_url_keeps_http_urls_without_credentials():
    assert safe_http_url("https://ci.example.com/w/1?x=2") == "https://ci.example.com/w/1?x=2"
    assert safe_http_url("https://bob:pw@ci.example.com/w/1") == "https://ci.example.com/w/1"


def test_a_javascript_web_url_from_a_provider_never_renders_as_a_link(viewer_client, semaphore):
    sync_connection(semaphore.pk)
    build = Build.objects.filter(connection=semaphore).first()
    Build.objects.filter(pk=build.pk).update(web_url="javascript:alert(document.cookie)")
    page = viewer_client.get(reverse("build", args=["semaphore", semaphore.slug, build.external_id])).content.decode()
    assert "javascript:" not in page
    api = viewer_client.get(reverse("api-build", args=["semaphore", semaphore.slug, build.external_id])).json()
    assert api["web_url"] == ""
