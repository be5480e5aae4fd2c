"""The per-key request rate: requests per minute, counted in the cache.

The counter is soft, as rate limits may be: a fixed one-minute window in the
cache, shared by every server process through Redis when REDIS_URL is set.
The other per-key limit, on unfinished tasks, must be exact: it is counted
in the database by services.submit, under the lock its credit hold takes.
"""

import time

from django.conf import settings
from django.core.cache import cache

from config import redis_client
from playground.api.errors import ApiError

# A window's counter outlives its minute a little, then expires.
WINDOW_TTL = 120


def count_request(api_key) -> None:
    now = time.time()
    window = int(now // 60)
    # By prefix, not pk: the prefix is random, so a counter never outlives its key.
    used = _count(f"api-rate:{api_key.prefix}:{window}")
    if used > settings.API_REQUESTS_PER_MINUTE:
        retry_after = max(1, int(60 - now % 60))
        raise ApiError(
            429,
            f"Rate limit exceeded: {settings.API_REQUESTS_PER_MINUTE} requests per minute "
            f"for this API key. Retry in {retry_after} s.",
            code="rate_limit_exceeded",
            retry_after=retry_after,
        )


def _count(key: str) -> int:
    """Count one more request in the window's counter; the new count.

    Every API call pays for this, so on Redis it is one command on one client
    per process: INCR, and EXPIRE only when INCR made the counter. Django's
    cache API takes three round trips (add, then incr's EXISTS and INCR) and
    builds a Redis client for each call (bench/README.md). Should a process
    die between the two commands, one counter stays without expiry: a few
    bytes, never counted again once its minute has passed.
    """
    client = redis_client.get()
    if client is None:
        # add() is atomic and a no-op when the key exists; incr() is atomic too.
        cache.add(key, 0, timeout=WINDOW_TTL)
        try:
            return cache.incr(key)
        except ValueError:  # evicted between add and incr: start the window again
            cache.set(key, 1, timeout=WINDOW_TTL)
            return 1
    name = redis_client.key(key)
    used = client.incr(name)
    if used == 1:
        client.expire(name, WINDOW_TTL)
    return used
