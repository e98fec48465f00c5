"""Rotating FIELD_ENCRYPTION_KEY: tokens re-encrypted with the new key, and a token no
key can read says so instead of reading as empty."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection as db
from django.urls import reverse

from dashboard.fields import is_unreadable
from dashboard.models import Connection, Health, SyncRun
from dashboard.sync import sync_connection

from .conftest import TOKEN


def stored_ciphertext(connection) -> str:
    with db.cursor() as cursor:
        cursor.execute("SELECT token FROM dashboard_connection WHERE id = %s", [connection.pk])
        return cursor.fetchone()[0]


@pytest.fixture
def keys(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = old
    return settings, old, new


def test_rotation_re_encrypts_every_token_with_the_first_key(keys, semaphore, capsys):
    settings, old, new = keys
    Connection.objects.filter(pk=semaphore.pk).update(token=TOKEN)  # encrypted with the old key
    settings.FIELD_ENCRYPTION_KEY = f"{new},{old}"
    call_command("rotate_field_key")
    assert "Re-encrypted 1 value(s)" in capsys.readouterr().out
    assert Fernet(new.encode()).decrypt(stored_ciphertext(semaphore).encode()).decode() == TOKEN

    settings.FIELD_ENCRYPTION_KEY = new
    assert Connection.objects.get(pk=semaphore.pk).token == TOKEN
    assert sync_connection(semaphore.pk).status == SyncRun.Status.OK


def test_a_token_no_key_reads_marks_the_connection_instead_of_reading_as_empty(keys, semaphore, viewer_client):
    settings, old, new = keys
    Connection.objects.filter(pk=semaphore.pk).update(token=TOKEN)
    ciphertext = stored_ciphertext(semaphore)
    settings.FIELD_ENCRYPTION_KEY = new  # the old key dropped before rotating

    connection = Connection.objects.get(pk=semaphore.pk)
    assert is_unreadable(connection.token) and connection.token == ""
    run = sync_connection(semaphore.pk)
    connection.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED and run.requests == 0
    assert connection.health == Health.AUTH_FAILED
    assert connection.last_error == "auth failed: token unreadable, re-enter it"
    assert "token unreadable, re-enter it" in viewer_client.get(reverse("connections")).content.decode()

    # Saving the connection keeps the ciphertext: putting the old key back recovers the token.
    connection.name = "renamed"
    connection.save()
    assert stored_ciphertext(semaphore) == ciphertext
    settings.FIELD_ENCRYPTION_KEY = f"{new},{old}"
    assert Connection.objects.get(pk=semaphore.pk).token == TOKEN


def test_rotation_names_tokens_it_cannot_read_and_fails(keys, semaphore):
    settings, _old, new = keys
    Connection.objects.filter(pk=semaphore.pk).update(token=TOKEN)
    settings.FIELD_ENCRYPTION_KEY = new
    with pytest.raises(CommandError, match=r"1 value\(s\) cannot be decrypted.*semaphore acme"):
        call_command("rotate_field_key")


def test_admin_asks_for_an_unreadable_token_again(keys, semaphore, admin_client_):
    settings, _old, new = keys
    Connection.objects.filter(pk=semaphore.pk).update(token=TOKEN)
    settings.FIELD_ENCRYPTION_KEY = new
    page = admin_client_.get(f"/admin/dashboard/connection/{semaphore.pk}/change/").content.decode()
    assert "unreadable: re-enter it" in page
    response = admin_client_.post(
        f"/admin/dashboard/connection/{semaphore.pk}/change/",
        {
            "kind": "semaphore",
            "name": semaphore.name,
            "slug": semaphore.slug,
            "base_url": semaphore.base_url,
            "token": "",
            "options": "{}",
            "sync_interval": 60,
            "enabled": "on",
        },
    )
    assert "cannot be decrypted with FIELD_ENCRYPTION_KEY" in response.content.decode()
