import os
import shutil

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User

from dashboard.models import Connection
from dashboard.roles import OPERATOR_GROUP, VIEWER_GROUP
from providers.base.sim import Clock, Faults, Scale
from providers.semaphore.sim import SemaphoreSimulator

TOKEN = "sim-token-0123456789abcdef"

# The simulators listen on 127.0.0.1: the outbound policy must let the dashboard reach
# them, here and in the workers and servers the tests start.
os.environ["OUTBOUND_ALLOW_LOOPBACK"] = "true"
settings.OUTBOUND_ALLOW_LOOPBACK = True


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    from dashboard import logindex
    from providers.base import pool

    cache.clear()
    logindex.forget()
    pool.forget()


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    settings.PROVIDER_RETRY_BACKOFF = 0.01
    settings.LOG_REFRESH_AFTER = 0


@pytest.fixture
def believe_deletions_at_once(settings):
    """Deletions still need two syncs that agree, but no wait between them."""
    settings.GONE_CONFIRM_SECONDS = 0
    settings.GONE_CONFIRM_MASS_SECONDS = 0


@pytest.fixture
def clock():
    return Clock(manual=True)


@pytest.fixture
def semaphore_sim(clock):
    sim = SemaphoreSimulator(
        TOKEN, seed=7, scale=Scale(projects=2, builds=4, jobs=3, arrival_every=30), clock=clock
    ).serve()
    yield sim
    sim.stop()


def make_connection(sim, slug: str = "acme", **kw) -> Connection:
    return Connection.objects.create(
        kind=sim.kind, name=f"{sim.kind} {slug}", slug=slug, base_url=sim.url, token=kw.pop("token", sim.token), **kw
    )


@pytest.fixture
def semaphore(db, semaphore_sim):
    return make_connection(semaphore_sim)


def _user(username: str, group: str | None = None, **flags) -> User:
    user = User.objects.create_user(username, password="pw-" + username, **flags)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def viewer(db):
    return _user("vera", VIEWER_GROUP)


@pytest.fixture
def operator(db):
    return _user("otto", OPERATOR_GROUP)


@pytest.fixture
def admin_user(db):
    return _user("ada", is_staff=True, is_superuser=True)


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def admin_client_(client, admin_user):
    client.force_login(admin_user)
    return client


# Browser tests: Debian's Chromium, never a downloaded one.
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(chromium):
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail("Chromium is required (REQUIRE_BROWSER is set) but /usr/bin/chromium is missing")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return {
        **browser_type_launch_args,
        "executable_path": chromium,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


__all__ = ["TOKEN", "Faults", "make_connection"]
