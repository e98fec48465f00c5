"""Every main page, for every provider, in Chromium at desktop and phone width: under the
Content-Security-Policy no console error and no violation, no horizontal overflow on a
phone, no serious or critical axe-core finding, and a screenshot of each kept in
``var/screenshots/<width>/`` for CI to keep."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dashboard import logstore
from dashboard.logsections import end_marker, start_marker
from dashboard.models import Build, Connection, Job
from dashboard.sync import sync_connection
from providers.base.sim import Clock, Scale
from providers.registry import KINDS, LABELS, simulator_class

from .support import DESKTOP, PHONE, Watch, axe_problems, horizontal_overflow, log_in, new_context, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def every_provider(db):
    """A simulator and a synced connection for every provider, some builds running."""
    clock = Clock(manual=True)
    sims = {}
    for kind in sorted(KINDS):
        sim = simulator_class(kind)(
            f"{kind}-token-0123456789abcdef",
            seed=5,
            scale=Scale(projects=2, builds=4, jobs=3, arrival_every=30),
            clock=clock,
        ).serve()
        sims[kind] = sim
        Connection.objects.create(
            kind=kind,
            name=f"{LABELS[kind]} team",
            slug=f"{kind}-team",
            base_url=sim.url,
            token=sim.token,
            options=sim.connection_options(),
        )
    for step in (0, 31):
        clock.advance(step)
        for connection in Connection.objects.all():
            sync_connection(connection.pk)
    yield sims
    for sim in sims.values():
        sim.stop()


def sectioned(job: Job) -> None:
    """A log with folded sections, one failed, as a provider marks them."""
    text = "".join(
        start_marker(f"make step-{n}")
        + "".join(f"\x1b[32mok\x1b[0m step {n} line {i}\n" for i in range(30))
        + end_marker(2 if n == 3 else 0, n * 1.5)
        for n in range(1, 6)
    )
    log = logstore.log_for(job)
    log.chunks.all().delete()
    log.size = 0
    logstore.append(log, text + "\x1b[31;1mFAIL\x1b[0m step 3 broke\n")
    log.complete = True
    log.save()


def page_list() -> list[tuple[str, str]]:
    pages = [
        ("overview", reverse("home")),
        ("builds", reverse("builds")),
        ("builds-filtered", reverse("builds") + "?state=failed&branch=ma"),
        ("wallboard", reverse("wall")),
        ("connections", reverse("connections")),
        ("deployments", reverse("deployments")),
        ("schedules", reverse("schedules")),
        ("agents", reverse("agents")),
        ("retention", reverse("retention")),
        ("activity", reverse("activity")),
        ("insights", reverse("insights")),
        ("insights-flaky", reverse("insights-flaky")),
        ("insights-queue", reverse("insights-queue")),
        ("insights-dora", reverse("insights-dora")),
    ]
    for connection in Connection.objects.order_by("kind"):
        args = [connection.kind, connection.slug]
        build = (
            Build.objects.filter(connection=connection, jobs__isnull=False)
            .order_by("-state", "-created_at")  # a failed or passed one with jobs
            .first()
        )
        job = build.jobs.order_by("-state").first()
        if connection.kind == "semaphore":
            sectioned(job)
            pages += [
                ("semaphore-project", reverse("project", args=[*args, build.project.external_id])),
                ("semaphore-pipeline", reverse("pipeline", args=[*args, build.pipeline.external_id])),
                (
                    "semaphore-stop-confirmation",
                    reverse("action", args=[*args, "stop_pipeline", "build", build.external_id]),
                ),
            ]
        pages += [
            (f"{connection.kind}-connection", reverse("connection", args=args)),
            (f"{connection.kind}-build", reverse("build", args=[*args, build.external_id])),
            (f"{connection.kind}-job", reverse("job", args=[*args, job.external_id])),
        ]
        if connection.kind == "jobsplatform" and build.pipeline is not None:
            pages.append(("jobsplatform-job-definition", reverse("pipeline", args=[*args, build.pipeline.external_id])))
    return [*pages, ("not-found", "/semaphore/semaphore-team/build/no-such-build")]


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
def test_every_main_page_is_clean_at_this_width(browser, live_server, every_provider, admin_user, viewer, width):
    pages = page_list()
    problems: dict[str, list[str]] = {}

    # With the policy enforced: errors, violations, overflow, screenshots.
    context = new_context(browser, width)
    page = context.new_page()
    watch = Watch(page)
    page.goto(f"{live_server.url}/accounts/login/")
    page.wait_for_load_state("networkidle")
    screenshot(page, "login", width)
    problems["login"] = watch.problems()
    log_in(page, live_server.url, "ada", "pw-ada")
    for name, path in pages:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        found = watch.problems()
        if name == "not-found":  # the 404 itself is the expected failed request
            found = [p for p in found if "404" not in p]
        if width == PHONE and (over := horizontal_overflow(page)) > 0:
            found.append(f"{over} px wider than the phone")
        screenshot(page, name, width)
        problems[name] = found
    context.close()

    # A viewer on an operator's page: the styled 403.
    context = new_context(browser, width)
    page = context.new_page()
    watch = Watch(page)
    log_in(page, live_server.url, "vera", "pw-vera", path=reverse("builds"))
    forbidden = dict(pages)["semaphore-stop-confirmation"]
    page.goto(f"{live_server.url}{forbidden}")
    page.wait_for_load_state("networkidle")
    problems["forbidden"] = [p for p in watch.problems() if "403" not in p]
    screenshot(page, "forbidden", width)
    context.close()

    # axe-core, injected from the vendored file (which the policy would rightly refuse).
    context = new_context(browser, width, bypass_csp=True)
    page = context.new_page()
    log_in(page, live_server.url, "ada", "pw-ada", path=reverse("builds"))
    for name, path in [*pages, ("login", None)]:
        if path is None:
            context.clear_cookies()
            path = "/accounts/login/"
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        problems[name] = problems.get(name, []) + axe_problems(page)
    context.close()

    found = {name: p for name, p in problems.items() if p}
    assert not found, "\n".join(f"{name}: {p}" for name, ps in found.items() for p in ps)
