"""Counting failures (sign-ins, API keys) per account and per client address,
and how long to refuse once there were too many.

A soft counter, as rate limits may be: a fixed window in the cache, shared by
every server process through Redis when REDIS_URL is set (one process's own
memory otherwise). Past the limit, attempts are refused until the window
ends, so a guesser gets at most twice the limit across a window's edge.
Who is counted is hashed into the key: usernames and addresses never sit in
the cache in clear.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from accounts import redis_client


@dataclass(frozen=True)
class Limit:
    """At most `allowed` failures per `window` seconds, counted under `scope`."""

    scope: str
    allowed: int
    window: int


def login_account() -> Limit:
    return Limit(
        "login-account", settings.LOGIN_FAILURES_PER_ACCOUNT, settings.LOGIN_FAILURE_WINDOW_SECONDS
    )


def login_address() -> Limit:
    return Limit(
        "login-address", settings.LOGIN_FAILURES_PER_ADDRESS, settings.LOGIN_FAILURE_WINDOW_SECONDS
    )


def api_bad_keys() -> Limit:
    return Limit(
        "api-bad-key", settings.API_BAD_KEYS_PER_ADDRESS, settings.API_BAD_KEY_WINDOW_SECONDS
    )


def client_address(request: HttpRequest) -> str:
    """The address of the client, as far as it can be trusted.

    REMOTE_ADDR, unless TRUSTED_PROXY_COUNT reverse proxies stand in front:
    then the address the outermost of them saw, which is that many entries
    from the right of X-Forwarded-For (each proxy appends the address it was
    called from; entries further left are whatever the client sent).
    """
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    hops = settings.TRUSTED_PROXY_COUNT
    if not hops:
        return remote
    forwarded = [
        entry.strip()
        for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if entry.strip()
    ]
    if not forwarded:
        return remote
    return forwarded[-hops] if len(forwarded) >= hops else forwarded[0]


def _key(limit: Limit, who: str, now: float) -> str:
    digest = hashlib.sha256(who.encode()).hexdigest()[:32]
    return f"throttle:{limit.scope}:{digest}:{int(now // limit.window)}"


def _retry_after(limit: Limit, now: float) -> int:
    return max(1, int(limit.window - now % limit.window))


def refused_for(limit: Limit, who: str) -> int:
    """Seconds until `who` may try again under `limit`; 0 when it may now."""
    now = time.time()
    key = _key(limit, who, now)
    client = redis_client.get()
    if client is None:
        used = cache.get(key, 0)
    else:
        used = int(client.get(redis_client.key(key)) or 0)
    return _retry_after(limit, now) if used >= limit.allowed else 0


def count_failure(limit: Limit, who: str) -> int:
    """Count one more failure of `who`: the seconds to refuse it for when this
    one is over the limit, else 0 (the first `allowed` failures are answered
    as usual; from then on `refused_for` refuses before anything is checked)."""
    now = time.time()
    key = _key(limit, who, now)
    # The counter outlives its window a little, then expires.
    ttl = limit.window + 60
    client = redis_client.get()
    if client is None:
        # add() is atomic and a no-op when the key exists; incr() is atomic too.
        cache.add(key, 0, timeout=ttl)
        try:
            used = cache.incr(key)
        except ValueError:  # evicted between add and incr: start again
            cache.set(key, 1, timeout=ttl)
            used = 1
    else:
        name = redis_client.key(key)
        used = client.incr(name)
        if used == 1:
            client.expire(name, ttl)
    return _retry_after(limit, now) if used > limit.allowed else 0


def forget(limit: Limit, who: str) -> None:
    """Start `who`'s count again (a sign-in that succeeded)."""
    key = _key(limit, who, time.time())
    client = redis_client.get()
    if client is None:
        cache.delete(key)
    else:
        client.delete(redis_client.key(key))
