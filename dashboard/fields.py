"""A text field encrypted at rest with Fernet (keys from FIELD_ENCRYPTION_KEY)."""

import logging
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

log = logging.getLogger(__name__)


@cache
def _fernet(keys: str) -> MultiFernet:
    return MultiFernet([Fernet(k.strip().encode()) for k in keys.split(",") if k.strip()])


def encrypt(value: str) -> str:
    return _fernet(settings.FIELD_ENCRYPTION_KEY).encrypt(value.encode()).decode()


def decrypt(value: str) -> str:
    return _fernet(settings.FIELD_ENCRYPTION_KEY).decrypt(value.encode()).decode()


def rotate(ciphertext: str) -> str:
    """``ciphertext`` encrypted again with the first key (InvalidToken if no key reads it)."""
    return _fernet(settings.FIELD_ENCRYPTION_KEY).rotate(ciphertext.encode()).decode()


class Unreadable(str):
    """A stored value no configured key can decrypt. It reads as "" (so pages that list
    connections keep working) but says so: ``is_unreadable(value)``. Saved again, it
    writes back the ciphertext it came from, so restoring the old key still recovers it."""

    ciphertext: str

    def __new__(cls, ciphertext: str):
        value = super().__new__(cls, "")
        value.ciphertext = ciphertext
        return value

    def __repr__(self) -> str:
        return "<unreadable encrypted value>"


def is_unreadable(value) -> bool:
    return isinstance(value, Unreadable)


class EncryptedTextField(models.TextField):
    """Stores ``Fernet(value)``; Python code only ever sees the plain value, or an
    ``Unreadable`` marker when no configured key decrypts it (a key was dropped before
    rotate_field_key ran)."""

    def from_db_value(self, value, expression, connection):
        if not value:
            return ""
        try:
            return decrypt(value)
        except InvalidToken:
            log.warning("an encrypted %s cannot be decrypted with FIELD_ENCRYPTION_KEY", self.name)
            return Unreadable(value)

    def get_prep_value(self, value):
        if isinstance(value, Unreadable):
            return value.ciphertext
        value = super().get_prep_value(value)
        return encrypt(value) if value else ""
