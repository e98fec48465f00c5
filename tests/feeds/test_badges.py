"""Badges: what they say, who may see them, and how they cache."""

from xml.etree import ElementTree

import pytest
from django.urls import reverse

from dashboard.models import Build, Connection, Pipeline

from . import expected

SVG = "{http://www.w3.org/2000/svg}"


def badge_url(target, branch: str = "") -> str:
    if isinstance(target, Connection):
        url = reverse("badge-connection", args=[target.kind, target.slug])
    else:
        name = "badge-pipeline" if isinstance(target, Pipeline) else "badge-project"
        url = reverse(name, args=[target.connection.kind, target.connection.slug, target.external_id])
    return url + (f"?branch={branch}" if branch else "")


def read(response) -> str:
    """The badge's text as a screen reader gets it (its <title>)."""
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("image/svg+xml")
    root = ElementTree.fromstring(response.content)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    return root.find(f"{SVG}title").text


def a_pair(state: str) -> Build:
    for pair in expected.pairs().values():
        if pair["status"] == {"passed": "Success", "failed": "Failure"}[state]:
            return pair["newest"]
    pytest.skip(f"no {state} pair in the sample")


@pytest.mark.parametrize("state, word", [("passed", "passing"), ("failed", "failing")])
def test_a_pipeline_and_branch_badge_says_its_last_result(viewer_client, synced, state, word):
    build = a_pair(state)
    title = read(viewer_client.get(badge_url(build.pipeline, build.branch)))
    assert title == f"{build.pipeline.name} {build.branch}: {word}"


def test_project_and_connection_badges_count_the_failing_pairs(viewer_client, synced):
    pairs = expected.pairs()
    failing = sum(p["status"] == "Failure" for p in pairs.values())
    with_verdict = sum(p["status"] != "Unknown" for p in pairs.values())
    assert 0 < failing < with_verdict
    assert read(viewer_client.get(badge_url(synced))) == f"{synced.name}: {failing} of {with_verdict} failing"

    project = a_pair("failed").project
    mine = expected.pairs(project=project)
    failing = sum(p["status"] == "Failure" for p in mine.values())
    total = sum(p["status"] != "Unknown" for p in mine.values())
    said = "failing" if total == 1 else f"{failing} of {total} failing"
    assert read(viewer_client.get(badge_url(project))) == f"{project.name}: {said}"


def test_the_label_can_be_chosen_and_unknown_branches_read_unknown(viewer_client, synced):
    build = a_pair("passed")
    response = viewer_client.get(badge_url(build.pipeline), {"label": "CI <main>", "branch": "no-such-branch"})
    assert read(response) == "CI <main>: unknown"
    assert b"CI &lt;main&gt;" in response.content


def test_without_a_login_or_valid_token_every_badge_is_the_same_404(client, synced, make_token):
    build = a_pair("passed")
    other = Pipeline.objects.exclude(pk=build.pipeline_id).first()
    scoped = make_token(pipeline=other)
    answers = [
        client.get(badge_url(build.pipeline, build.branch)),
        client.get(badge_url(build.pipeline, build.branch), {"token": "cif_wrong"}),
        client.get(badge_url(build.pipeline, build.branch), {"token": scoped}),  # outside its scope
        client.get(badge_url(synced), {"token": scoped}),  # the connection shows more than the token may
        client.get("/badge/semaphore/acme/pipeline/no-such-pipeline.svg", {"token": make_token()}),
    ]
    assert [a.status_code for a in answers] == [404] * 5
    assert len({a.content for a in answers}) == 1
    assert build.pipeline.name.encode() not in answers[0].content


def test_a_token_badge_is_public_briefly_cached_and_revalidated_by_etag(client, synced, make_token):
    build = a_pair("passed")
    secret = make_token(pipeline=build.pipeline, branch=build.branch)
    url = badge_url(build.pipeline)  # a branch-scoped token shows its branch by default

    first = client.get(url, {"token": secret})
    assert read(first).endswith(": passing")
    assert first["Cache-Control"] == "max-age=60, must-revalidate, public"
    again = client.get(url, {"token": secret}, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again["ETag"] == first["ETag"]
    assert client.get(url, {"token": secret, "branch": "release/1.4"}).status_code == 404


def test_the_badge_changes_and_its_etag_with_it_when_a_build_fails(viewer_client, synced):
    build = a_pair("passed")
    url = badge_url(build.pipeline, build.branch)
    first = viewer_client.get(url)
    Build.objects.filter(pk=build.pk).update(state="failed")
    Build.objects.filter(pipeline=build.pipeline, branch=build.branch, created_at__gt=build.created_at).delete()
    changed = viewer_client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200 and read(changed).endswith(": failing")
    assert changed["ETag"] != first["ETag"]


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two #rrggbb colours."""

    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_white_text_stays_readable_on_every_badge_colour_on_light_and_dark_pages(viewer_client, synced):
    build = a_pair("failed")
    root = ElementTree.fromstring(viewer_client.get(badge_url(build.pipeline, build.branch)).content)
    backgrounds = [r.get("fill") for r in root.iter(f"{SVG}rect") if r.get("fill", "").startswith("#")][1:]
    from dashboard.feeds.badges import COLOURS, LABEL_COLOUR

    assert backgrounds == [LABEL_COLOUR, COLOURS["failing"]]
    assert root.find(f"{SVG}g[@fill='#fff']") is not None
    for colour in [LABEL_COLOUR, *COLOURS.values()]:
        assert contrast("#ffffff", colour) >= 4.5, colour
