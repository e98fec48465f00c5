"""Semaphore workflows and pipelines as the build page shows them (docs/providers/
semaphore.md, "Workflows", "Pipelines", "Promotions"): the workflow's pipelines grouped as
Semaphore's UI groups them, every page of promotions, the blocks, Semaphore's own
pipeline search with ``wf_id``, a stop shown at once, and partial rebuilds refused as
the real server refuses them."""

import pytest

from dashboard.actions import run_action
from dashboard.models import ActionLog, Build
from dashboard.sync import sync_connection

from .support import action, action_url, api_panel_url, panel_url, running_build


def passed_build(sim) -> Build:
    t = sim.now()
    ppl = next(p for p in sim.pipelines.values() if p.state(t) == "done" and p.result(t)[0] == "passed")
    return Build.objects.get(external_id=ppl.id)


def failed_build(sim) -> Build:
    t = sim.now()
    ppl = next(p for p in sim.pipelines.values() if p.state(t) == "done" and p.result(t)[0] == "failed")
    return Build.objects.get(external_id=ppl.id)


def test_the_workflow_panel_groups_its_pipelines_as_semaphore_does(synced, semaphore_sim, clock, operator, client):
    build = failed_build(semaphore_sim)
    promoted = run_action(operator, synced, action("promote"), build, {"name": "Staging", "override": True})
    rebuilt = run_action(operator, synced, action("partial_rebuild"), build, {"request_token": "tok-1"})
    assert promoted.ok and rebuilt.ok, (promoted.message, rebuilt.message)
    sync_connection(synced.pk)
    client.force_login(operator)

    data = client.get(api_panel_url(synced, "workflow", "build", build.external_id)).json()["data"]
    html = client.get(panel_url(synced, "workflow", "build", build.external_id)).content.decode()

    groups = dict(data["groups"])
    assert [p["id"] for p in groups["Initial"]] == [build.external_id] and groups["Initial"][0]["current"]
    assert [p["from_id"] for p in groups["Promotions"]] == [build.external_id]
    assert groups["Promotions"][0]["name"] == "Staging deployment" and groups["Promotions"][0]["url"]
    assert [p["from_id"] for p in groups["Rebuilds"]] == [build.external_id]
    assert data["workflow"]["id"] == build.group_id and data["workflow"]["triggered_by"] == "hook"
    assert "promoted from" in html and "rebuilds" in html and "this page" in html


def test_every_page_of_promotions_is_shown(synced, semaphore_sim, operator, client):
    build = passed_build(semaphore_sim)
    for n in range(12):  # more than Semaphore's page of 10
        outcome = run_action(
            operator, synced, action("promote"), build, {"name": "Production", "parameters": {"N": str(n)}}
        )
        assert outcome.ok, outcome.message
    client.force_login(operator)
    semaphore_sim.requests.clear()

    data = client.get(api_panel_url(synced, "build_panel", "build", build.external_id)).json()["data"]

    assert len(data["promotions"]) == 12
    pages = [r.query for r in semaphore_sim.requests if r.path.endswith("/promotions")]
    assert len(pages) == 2 and "page=2" in pages[1]
    first = data["promotions"][0]
    assert first["triggered_by"] == "a user" and first["triggered_by_id"] == semaphore_sim.members["semaphore-api"]


def test_the_blocks_panel_shows_each_blocks_state_result_and_reason(synced, semaphore_sim, client, operator):
    build = failed_build(semaphore_sim)
    client.force_login(operator)

    data = client.get(api_panel_url(synced, "blocks", "build", build.external_id)).json()["data"]
    html = client.get(panel_url(synced, "blocks", "build", build.external_id)).content.decode()

    ppl = semaphore_sim.pipelines[build.external_id]
    expected = [(b.name, *ppl.block_state(b, semaphore_sim.now())) for b in ppl.blocks]
    assert [(b["name"], b["state"], b["result"], b["result_reason"]) for b in data["blocks"]] == expected
    assert data["pipeline"]["result_reason"] == "test"
    assert "<th>Why</th>" in html


def test_semaphores_pipeline_search_takes_a_workflow_id_and_lists_workflows(synced, semaphore_sim, client, operator):
    build = Build.objects.first()
    client.force_login(operator)

    data = client.get(
        api_panel_url(synced, "project_extra", "project", build.project.external_id),
        {"search": "1", "wf_id": build.group_id},
    ).json()["data"]

    assert {r["wf_id"] for r in data["search_rows"]} == {build.group_id}
    assert {r["id"] for r in data["search_rows"]} == set(semaphore_sim.workflows[build.group_id].pipelines)
    project = semaphore_sim.projects[build.project.external_id]
    assert [w["id"] for w in data["workflows"]] == list(reversed(project.workflows))[: len(data["workflows"])]
    assert any(r.path.endswith("/pipelines") and f"wf_id={build.group_id}" in r.query for r in semaphore_sim.requests)
    bad = client.get(
        api_panel_url(synced, "project_extra", "project", build.project.external_id), {"search": "1", "wf_id": "x"}
    ).json()["data"]
    assert "Workflow id" not in str(bad.get("search_rows")) and "wf_id" in bad["search_error"]


def test_after_stop_the_page_shows_semaphores_state_at_once(operator_client, synced, semaphore_sim, clock):
    build = running_build(semaphore_sim, clock, synced)

    response = operator_client.post(action_url(synced, "stop_pipeline", "build", build.external_id), {"confirm": "yes"})

    assert response.status_code == 302
    build.refresh_from_db()
    assert build.raw_state == "stopping"  # stored from Semaphore's answer right after the stop, no sync yet
    entry = ActionLog.objects.get(action="stop_pipeline")
    assert entry.answer.startswith("Pipeline termination started.") and "Semaphore is stopping it" in entry.answer
    clock.advance(2)
    sync_connection(synced.pk)
    build.refresh_from_db()
    assert build.state == "canceled"


@pytest.mark.parametrize(
    "which, words",
    [
        ("passed", "Pipelines which passed can not be partial rebuilt."),
        ("running", "Only pipelines which are in done state can be partial rebuilt."),
    ],
)
def test_a_partial_rebuild_is_refused_as_semaphore_refuses_it(
    api, synced, semaphore_sim, clock, operator, which, words
):
    from providers.base.errors import Rejected

    build = passed_build(semaphore_sim) if which == "passed" else running_build(semaphore_sim, clock, synced)
    assert not action("partial_rebuild").offered_for(build)  # no button for it

    with pytest.raises(Rejected) as refused:
        api.partial_rebuild(build.external_id, "token-1")
    outcome = run_action(operator, synced, action("partial_rebuild"), build, {"request_token": "token-2"})

    assert str(refused.value) == words
    assert not outcome.ok
