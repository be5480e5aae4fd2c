"""Readiness: whether this install can take work now, part by part.

GET /readyz (ops.views) answers 503 naming the failing parts. Each check is
one cheap round trip, so a load balancer may probe every few seconds:

- database: `SELECT 1`;
- redis (only with REDIS_URL): PING on a new connection with a short timeout;
- queue: the age of the oldest generation still queuing (one MIN over the
  rows of state "queuing", found through the gen_state_* indexes), against
  READY_QUEUE_SECONDS (0: not checked);
- sweeper: when a sweeper last finished a pass (its Heartbeat row), against
  READY_SWEEPER_SECONDS.

The queue and sweeper checks read the database, so they are skipped when it
is down. Error details go to the log, not to the answer: /readyz needs no
key, and a driver's message names hosts and users.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

import redis
from django.conf import settings
from django.db import Error as DatabaseError
from django.db import connection
from django.db.models import Min
from django.utils import timezone

from playground.models import Generation
from playground.ops.models import Heartbeat

log = logging.getLogger(__name__)

# Seconds the Redis check waits to connect and for its answer; a load
# balancer's probe usually gives up after about five.
REDIS_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def seen(name: str) -> None:
    """Record that the process kind `name` (Heartbeat.SWEEPER) just finished a pass."""
    now = timezone.now()
    if not Heartbeat.objects.filter(name=name).update(seen_at=now):
        # The first pass ever; two first passes at once both end with the row.
        Heartbeat.objects.get_or_create(name=name, defaults={"seen_at": now})


def readiness() -> list[Check]:
    now = timezone.now()
    checks = [_database()]
    if settings.REDIS_URL:
        checks.append(_redis())
    if checks[0].ok:
        checks += [_queue(now), _sweeper(now)]
    return checks


def _database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        log.warning("readiness: the database is unreachable: %s", exc)
        return Check("database", False, f"unreachable ({type(exc).__name__})")
    return Check("database", True, "ok")


def _redis() -> Check:
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        log.warning("readiness: Redis is unreachable: %s", exc)
        return Check("redis", False, f"unreachable ({type(exc).__name__})")
    finally:
        client.close()
    return Check("redis", True, "ok")


def _queue(now: datetime) -> Check:
    oldest = Generation.objects.filter(state=Generation.QUEUING).aggregate(at=Min("created_at"))
    if oldest["at"] is None:
        return Check("queue", True, "nothing queued")
    waited = int((now - oldest["at"]).total_seconds())
    limit = settings.READY_QUEUE_SECONDS
    detail = f"the oldest queued generation has waited {waited} s"
    if limit and waited > limit:
        return Check("queue", False, f"{detail} (limit {limit} s)")
    return Check("queue", True, detail)


def _sweeper(now: datetime) -> Check:
    seen_at = Heartbeat.objects.filter(name=Heartbeat.SWEEPER).values_list("seen_at", flat=True)
    seen_at = seen_at.first()
    if seen_at is None:
        return Check("sweeper", False, "never seen: is a sweeper running?")
    ago = int((now - seen_at).total_seconds())
    limit = settings.READY_SWEEPER_SECONDS
    if ago > limit:
        return Check("sweeper", False, f"last pass {ago} s ago (limit {limit} s)")
    return Check("sweeper", True, f"last pass {ago} s ago")
