"""Provider credentials encrypted at rest, with keys from PROVIDER_SECRETS_KEY.

    token = seal({"api_key": "..."})      # Fernet token text, safe to store
    open_sealed(token)                    # -> {"api_key": "..."}

The setting lists Fernet keys (`cryptography`'s authenticated encryption):
the first encrypts, every one decrypts, so a key is rotated by putting the new
one first, running `manage.py provider rotate-keys`, then dropping the old.
A token no configured key opens raises SecretsUnreadable, which names the
setting; it is never taken for empty credentials.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


class SecretsUnreadable(ImproperlyConfigured):
    """Stored credentials that none of the configured keys can decrypt."""


def _box() -> MultiFernet:
    keys = settings.PROVIDER_SECRETS_KEYS
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "PROVIDER_SECRETS_KEY must list Fernet keys (32 url-safe base64-encoded bytes, "
            "as `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'` prints), comma-separated."
        ) from exc


def seal(secrets: dict[str, str]) -> str:
    return _box().encrypt(json.dumps(secrets, sort_keys=True).encode()).decode()


def open_sealed(token: str) -> dict[str, str]:
    try:
        plain = _box().decrypt(token.encode())
    except InvalidToken:
        raise SecretsUnreadable(
            "Provider credentials are stored encrypted, but none of the keys in "
            "PROVIDER_SECRETS_KEY decrypts them. Set PROVIDER_SECRETS_KEY to the key "
            "they were encrypted with (several keys may be given, comma-separated)."
        ) from None
    value = json.loads(plain)
    return value if isinstance(value, dict) else {}


class SealedJSONField(models.TextField):
    """A dict of secrets, stored as one Fernet token; blank when empty.

    Python code sees the plain dict; the column only ever holds the token.
    """

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> dict[str, str]:
        return open_sealed(value) if value else {}

    def to_python(self, value: Any) -> dict[str, str]:
        if isinstance(value, dict):
            return value
        return open_sealed(value) if value else {}

    def get_prep_value(self, value: Any) -> str:
        if not value:
            return ""
        if isinstance(value, str):  # already a token (a raw update)
            return value
        return seal({str(k): str(v) for k, v in value.items() if v not in (None, "")})

    def value_to_string(self, obj: Any) -> str:
        # dumpdata writes the token, never the secrets.
        return self.get_prep_value(self.value_from_object(obj))
