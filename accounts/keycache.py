"""Authenticated API keys kept in each server process, dropped when anything changes.

Reading the key with its user, team and credit account was one of the two
queries of every status call, with a four-table join for PostgreSQL to plan
each time (bench/README.md). Each process therefore keeps a small record of
each key it has authenticated (KeyRecord): the ids an API call needs and
whether the key may be used.

What a record holds can change: a key is revoked or deleted, a user
deactivated or moved to another team. Every such change bumps one counter
in Redis, the epoch, when its transaction commits (accounts/signals.py and
apikeys.revoke). A process reads the epoch on every call (one Redis GET,
against a PostgreSQL query) and uses a kept record only while the epoch is
the one it was read under; the epoch is read before the row, so a row read
after a change is never kept under an epoch from before it. A record is also
kept at most API_KEY_CACHE_SECONDS, for changes made around the ORM (raw
SQL, a queryset's update() in a shell), which bump nothing.

Nothing that moves is kept: no balance, no password, no webhook secret. Code
that needs the user, their account or the key itself reads the rows
(apikeys.user_of, apikeys.authenticate).

Without Redis (REDIS_URL unset: `make run`, one process) or with
API_KEY_CACHE_SECONDS=0 nothing is kept and every call reads the key.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

import redis
from django.conf import settings
from django.db import transaction

from accounts import redis_client

log = logging.getLogger(__name__)

EPOCH = "api-keys:epoch"
# The epoch expires a day after it starts; the next call starts a new one
# and every process reads its keys again once. So an install (or a test
# run) that goes away leaves nothing behind in a shared Redis for good.
EPOCH_SECONDS = 24 * 3600


@dataclass(frozen=True)
class KeyRecord:
    """An API key as every API call needs it: whose it is, and whether it may be used."""

    id: int
    prefix: str
    secret_hash: str
    user_id: int
    team_id: int
    account_id: int
    # Not revoked, and its user active.
    active: bool


@dataclass
class Entry:
    record: KeyRecord
    epoch: int | None
    kept_at: float
    # The key's last_used_at as read, then as apikeys.check refreshes it, so
    # the row's older value does not make every call write it again.
    last_used_at: datetime | None


# prefix -> Entry. Only keys that exist are kept, so it is as large as the
# keys in use; dict reads and writes are atomic, so threads share it.
_entries: dict[str, Entry] = {}


def epoch() -> int | None:
    """The current epoch, or None when nothing may be kept."""
    if settings.API_KEY_CACHE_SECONDS <= 0:
        return None
    client = redis_client.get()
    if client is None:
        return None
    name = redis_client.key(EPOCH)
    try:
        value = client.get(name)
        if value is None:  # a new Redis, or one restarted empty
            client.set(name, _fresh_start(), nx=True, ex=EPOCH_SECONDS)
            value = client.get(name)
    except redis.RedisError:
        return None  # not heard of changes: read the key as if nothing were kept
    return int(value)


def _fresh_start() -> int:
    # Random, not 0: after Redis comes back empty, the epoch must not climb
    # back to a value records were kept under before.
    return secrets.randbits(62)


def get(prefix: str, current_epoch: int | None) -> Entry | None:
    if current_epoch is None:
        return None
    entry = _entries.get(prefix)
    if entry is None:
        return None
    if (
        entry.epoch != current_epoch
        or time.monotonic() - entry.kept_at > settings.API_KEY_CACHE_SECONDS
    ):
        _entries.pop(prefix, None)
        return None
    return entry


def keep(record: KeyRecord, last_used_at: datetime | None, current_epoch: int | None) -> Entry:
    """An entry for a key just read, kept for later calls when the epoch allows."""
    entry = Entry(
        record=record, epoch=current_epoch, kept_at=time.monotonic(), last_used_at=last_used_at
    )
    if current_epoch is not None:
        _entries[record.prefix] = entry
    return entry


def changed() -> None:
    """Something a kept record holds is changing: this process drops its
    records now, every process once the current transaction commits."""
    _entries.clear()
    transaction.on_commit(_bump)


def _bump() -> None:
    client = redis_client.get()
    if client is None:  # no Redis: nothing is kept anywhere
        return
    name = redis_client.key(EPOCH)
    try:
        # INCR keeps the epoch's expiry; one it creates has none yet.
        if client.incr(name) == 1:  # there was none: start somewhere new
            client.set(name, _fresh_start(), ex=EPOCH_SECONDS)
    except redis.RedisError:
        # The change is in the database; processes keep their records for at
        # most API_KEY_CACHE_SECONDS more. Said loudly: revocations wait.
        log.exception(
            "could not bump the API key epoch in Redis; kept keys expire within %s s",
            settings.API_KEY_CACHE_SECONDS,
        )
