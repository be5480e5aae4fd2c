"""The per-key request rate, the requests allowed to wait (`Prefer: wait`) and the
per-address count of bad keys, in the cache.

The counter is soft, as rate limits may be: a fixed one-minute window in the
cache, shared by every server process through Redis when REDIS_URL is set.
The other per-key limit, on unfinished tasks, must be exact: it is counted
in the database by services.submit, under the lock its credit hold takes.
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache

from accounts import redis_client, throttle
from playground.contracts.errors import ApiError

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


def count_bad_key(request) -> None:
    """Count a request whose key was wrong, revoked or malformed against its
    client address; 429 past API_BAD_KEYS_PER_ADDRESS in the window.

    The key is checked first and a valid one is served whatever its
    address's count: keys are 256 random bits, so the count is not what
    keeps them safe. It tells a client that keeps sending a wrong key to
    stop, without one such client behind a shared address (an office NAT,
    a CI runner) locking out the working keys of the others. A request that
    sends no key at all guesses nothing and is not counted.
    """
    retry_after = throttle.count_failure(throttle.api_bad_keys(), throttle.client_address(request))
    if retry_after:
        raise ApiError(
            429,
            f"Too many requests with an invalid API key from your address: "
            f"{settings.API_BAD_KEYS_PER_ADDRESS} per {settings.API_BAD_KEY_WINDOW_SECONDS} s "
            f"are answered. Check the key, and retry in {retry_after} s.",
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


# A held wait slot outlives the longest wait (60 s) a little, then expires:
# a process killed mid-wait does not keep its slots.
WAIT_TTL = 90


class _ProcessWaits:
    """The requests of this process waiting now, at most API_WAITS_PER_PROCESS:
    as many as the threads `manage.py serve` adds for them beside WEB_THREADS."""

    def __init__(self):
        self._lock = threading.Lock()
        self._waiting = 0

    def take(self) -> bool:
        with self._lock:
            if self._waiting >= settings.API_WAITS_PER_PROCESS:
                return False
            self._waiting += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self._waiting -= 1


_process_waits = _ProcessWaits()


@contextmanager
def wait_slot(api_key, team_id: int) -> Iterator[bool]:
    """Whether this request may wait for its result, holding a slot while it does.

    A waiting request holds a server thread. Each web process has
    API_WAITS_PER_PROCESS threads beside the ones it serves requests on
    (manage.py serve sizes gunicorn's pool so), and at most that many of its
    requests wait at once: however many wait, every other request still
    finds a free thread. Waits are also counted per API key
    (API_WAITS_PER_KEY) and per team (API_WAITS_PER_TEAM), so one team
    cannot take every process's waits. Past any of the three the request
    answers at once, as a client must expect anyway (Replicate's answers
    `starting` and its client polls from there). The key and team counters
    are soft, like the request rate: shared through Redis, or per process on
    the local-memory cache.
    """
    if not _process_waits.take():
        yield False
        return
    counters = [
        (f"api-wait:key:{api_key.prefix}", settings.API_WAITS_PER_KEY),
        (f"api-wait:team:{team_id}", settings.API_WAITS_PER_TEAM),
    ]
    taken = []
    try:
        for key, allowed in counters:
            cache.add(key, 0, WAIT_TTL)
            taken.append(key)
            if cache.incr(key) > allowed:
                yield False
                return
        yield True
    finally:
        for key in taken:
            try:
                cache.decr(key)
            except ValueError:  # expired meanwhile: nothing to give back
                pass
        _process_waits.give_back()
