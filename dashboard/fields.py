"""A text field encrypted at rest with Fernet (keys from FIELD_ENCRYPTION_KEY)."""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


@cache
def _fernet(keys: str) -> MultiFernet:
    return MultiFernet([Fernet(k.strip().encode()) for k in keys.split(",") if k.strip()])


def encrypt(value: str) -> str:
    return _fernet(settings.FIELD_ENCRYPTION_KEY).encrypt(value.encode()).decode()


def decrypt(value: str) -> str:
    return _fernet(settings.FIELD_ENCRYPTION_KEY).decrypt(value.encode()).decode()


class EncryptedTextField(models.TextField):
    """Stores ``Fernet(value)``; Python code only ever sees the plain value.

    A value that no configured key can decrypt reads as "" so a lost key shows up as
    "token missing" on the connection rather than a crash on every page."""

    def from_db_value(self, value, expression, connection):
        if not value:
            return ""
        try:
            return decrypt(value)
        except InvalidToken:
            return ""

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return encrypt(value) if value else ""
