"""Issuing and checking API keys. Only a digest of each key is stored."""

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from accounts import keycache
from accounts.keycache import KeyRecord
from accounts.models import ApiKey

KEY_START = "rg_"
PREFIX_LENGTH = len(KEY_START) + 8
# last_used_at is a hint for people, not an audit: writing it on every
# request would turn each API read into a write, so it is refreshed at most
# once a minute.
LAST_USED_PRECISION = timedelta(minutes=1)


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


def bearer_key(headers: Mapping[str, str]) -> str:
    """The raw key of an `Authorization: Bearer <key>` (or `Token <key>`) header; "" without one."""
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    if scheme.lower() in {"bearer", "token"}:
        return token.strip()
    return ""


def check(raw_key: str) -> KeyRecord | None:
    """The record of the active key matching `raw_key`, or None (unknown, wrong
    or revoked key, deactivated user).

    Every API call starts here, so the record is kept per process
    (accounts/keycache.py): a kept key costs no query.
    """
    if not raw_key or not raw_key.startswith(KEY_START) or len(raw_key) > 200:
        return None
    prefix = raw_key[:PREFIX_LENGTH]
    epoch = keycache.epoch()  # before the row: see keycache
    entry = keycache.get(prefix, epoch)
    if entry is None:
        entry = _read(prefix, epoch)
        if entry is None:
            return None
    record = entry.record
    if not hmac.compare_digest(record.secret_hash, digest(raw_key)) or not record.active:
        return None
    now = timezone.now()
    if entry.last_used_at is None or entry.last_used_at < now - LAST_USED_PRECISION:
        ApiKey.objects.filter(pk=record.id).update(last_used_at=now)
        entry.last_used_at = now
    return record


def _read(prefix: str, epoch: int | None) -> keycache.Entry | None:
    # One row with the ids of the user's team and its wallet. No ORDER BY:
    # get() leaves the model's ordering out, and the prefix is unique.
    try:
        row = ApiKey.objects.values(
            "id",
            "secret_hash",
            "last_used_at",
            "revoked_at",
            "user_id",
            "user__is_active",
            "user__profile__team_id",
            "user__profile__team__wallet__id",
        ).get(prefix=prefix)
    except ApiKey.DoesNotExist:
        return None
    record = KeyRecord(
        id=row["id"],
        prefix=prefix,
        secret_hash=row["secret_hash"],
        user_id=row["user_id"],
        team_id=row["user__profile__team_id"],
        account_id=row["user__profile__team__wallet__id"],
        active=row["revoked_at"] is None and row["user__is_active"],
    )
    return keycache.keep(record, row["last_used_at"], epoch)


def user_of(record: KeyRecord) -> AbstractBaseUser:
    """The key's user with their profile, read in one query when first used,
    as Django's own `request.user` is.

    API views that only need the ids (the team's, the account's) take them
    from the record and cost no query.
    """
    return SimpleLazyObject(
        lambda: get_user_model().objects.select_related("profile").get(pk=record.user_id)
    )


def authenticate(raw_key: str) -> ApiKey | None:
    """The active key matching `raw_key`, with its user; None as for check().

    The row is read when first used: checking the key itself costs no query
    while its record is kept.
    """
    record = check(raw_key)
    if record is None:
        return None
    return SimpleLazyObject(lambda: ApiKey.objects.select_related("user").get(pk=record.id))


def revoke(key: ApiKey) -> bool:
    """Revoke `key`; False when it was already revoked."""
    now = timezone.now()
    revoked = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=now)
    if revoked:
        key.revoked_at = now
        keycache.changed()  # an update() sends no signal
    return bool(revoked)
