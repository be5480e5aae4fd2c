"""Issuing and checking API keys. Only a digest of each key is stored."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import keycache
from accounts.models import ApiKey
from config.prepared import PreparedQuery

KEY_START = "rg_"
PREFIX_LENGTH = len(KEY_START) + 8
# last_used_at is a hint for people, not an audit: writing it on every
# request would turn each API read into a write, so it is refreshed at most
# once a minute.
LAST_USED_PRECISION = timedelta(minutes=1)

# Every API request starts here, so the SQL is built once (config/prepared.py)
# and the rows are kept per process (accounts/keycache.py). The credit account
# comes along, since createTask holds credits on it, but without its balance
# and held: those are read fresh when asked for, as are the password and the
# webhook secret, so a kept row holds nothing that moves. The prefix is
# unique, so no ORDER BY (the model's default ordering would add a sort).
KEY_BY_PREFIX = PreparedQuery(
    lambda prefix: (
        ApiKey.objects.select_related("user", "user__profile", "user__credit_account")
        .defer(
            "user__password",
            "user__profile__webhook_secret",
            "user__credit_account__balance",
            "user__credit_account__held",
        )
        .filter(prefix=prefix)
        .order_by()[:1]
    ),
    prefix=str,
)


def digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def draw(key: ApiKey) -> str:
    """Give the unsaved `key` a fresh secret; returns the secret, never stored."""
    raw_key = KEY_START + secrets.token_urlsafe(32)
    key.prefix = raw_key[:PREFIX_LENGTH]
    key.secret_hash = digest(raw_key)
    return raw_key


def issue(user, name: str = "") -> tuple[ApiKey, str]:
    """Create a key for `user`. Returns the row and the secret, shown once."""
    for _ in range(5):
        key = ApiKey(user=user, name=name)
        raw_key = draw(key)
        try:
            with transaction.atomic():
                key.save()
            return key, raw_key
        except IntegrityError:  # the 48-bit prefix collided; draw again
            continue
    raise RuntimeError("could not draw a unique API key prefix")


def authenticate(raw_key: str) -> ApiKey | None:
    """The active key matching `raw_key`, or None (unknown, wrong or revoked)."""
    if not raw_key or not raw_key.startswith(KEY_START) or len(raw_key) > 200:
        return None
    prefix = raw_key[:PREFIX_LENGTH]
    epoch = keycache.epoch()  # before the row: see keycache
    entry = keycache.get(prefix, epoch)
    if entry is None:
        rows = KEY_BY_PREFIX.rows(prefix=prefix)
        if not rows:
            return None
        entry = keycache.keep(prefix, rows[0], epoch)
    key = KEY_BY_PREFIX.instance(entry.row)
    if not hmac.compare_digest(key.secret_hash, digest(raw_key)):
        return None
    if key.revoked_at is not None or not key.user.is_active:
        return None
    if entry.last_used_at is not None:
        key.last_used_at = max(key.last_used_at or entry.last_used_at, entry.last_used_at)
    now = timezone.now()
    if key.last_used_at is None or key.last_used_at < now - LAST_USED_PRECISION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = entry.last_used_at = now
    return key


def revoke(key: ApiKey) -> bool:
    """Revoke `key`; False when it was already revoked."""
    now = timezone.now()
    revoked = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=now)
    if revoked:
        key.revoked_at = now
        keycache.changed()  # an update() sends no signal
    return bool(revoked)
