"""One Redis client per process for the hot paths that talk to Redis directly.

Django's cache API builds a client for each call and takes several round
trips where one command does (bench/README.md); the rate counter and the
key cache's epoch use this client instead. None without REDIS_URL.

It lives in accounts, the app every other one builds on, so the key cache
here and the API's rate counter in playground both reach it without an
import pointing up.
"""

import os

import redis
from django.conf import settings

_client: tuple[int, str, redis.Redis] | None = None


def get() -> redis.Redis | None:
    global _client
    if not settings.REDIS_URL:
        return None
    pid = os.getpid()
    if _client is None or _client[:2] != (pid, settings.REDIS_URL):  # a fork makes its own
        _client = (pid, settings.REDIS_URL, redis.Redis.from_url(settings.REDIS_URL))
    return _client[2]


def key(name: str) -> str:
    """`name` under this install's KEY_PREFIX, so installs and test runs can share a Redis."""
    return f"{settings.KEY_PREFIX}:{name}"
