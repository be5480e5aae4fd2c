"""Per-key limits: requests per minute (cache) and unfinished tasks (database).

The request counter is soft, as rate limits may be: a fixed one-minute
window in the cache, shared by every server process through Redis when
REDIS_URL is set. The unfinished-task count comes from the database, which
knows it exactly.
"""

import time

from django.conf import settings
from django.core.cache import cache

from config import redis_client
from config.prepared import PreparedQuery
from playground.api.errors import ApiError
from playground.models import Generation

# A window's counter outlives its minute a little, then expires.
WINDOW_TTL = 120
# Checked on every create (config/prepared.py); the partial index
# gen_key_unfinished holds exactly these rows.
UNFINISHED_BY_KEY = PreparedQuery(
    lambda api_key_id: (
        Generation.objects.filter(api_key_id=api_key_id, state__in=Generation.UNFINISHED)
        .order_by()
        .values("pk")
    ),
    api_key_id=int,
)


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


def check_unfinished(api_key) -> None:
    # Counted up to the limit only: past it, the answer is the same.
    unfinished = UNFINISHED_BY_KEY.count(
        api_key_id=api_key.pk, up_to=settings.API_MAX_UNFINISHED_TASKS
    )
    if unfinished >= settings.API_MAX_UNFINISHED_TASKS:
        raise ApiError(
            429,
            f"Too many unfinished tasks: {unfinished} of {settings.API_MAX_UNFINISHED_TASKS} "
            "allowed for this API key. Wait for some to finish.",
            code="too_many_tasks",
            retry_after=5,
        )
