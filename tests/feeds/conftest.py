import pytest

from dashboard.feeds import tokens
from dashboard.sync import sync_connection


@pytest.fixture
def synced(semaphore, clock):
    """History plus new workflows that are queued or running."""
    sync_connection(semaphore.pk)
    clock.advance(31)
    sync_connection(semaphore.pk)
    return semaphore


@pytest.fixture
def make_token(admin_user):
    def make(name: str = "build light", **scope) -> str:
        return tokens.create(name, admin_user, **scope)[1]

    return make
