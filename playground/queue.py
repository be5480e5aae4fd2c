"""Handing work to django-q2. Always after the transaction commits.

async_task() builds a new broker (for Redis, a new client) on every call
unless one is passed; one broker per process is several times faster.
"""

import os
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django_q.brokers import Broker, get_broker
from django_q.tasks import async_task

_broker: tuple[int, Broker] | None = None


def broker() -> Broker:
    global _broker
    if _broker is None or _broker[0] != os.getpid():  # a forked worker builds its own
        _broker = (os.getpid(), get_broker())
    return _broker[1]


def enqueue(func: str, *args) -> None:
    # Our rows hold every state, so django-q2 need not save successful results.
    async_task(func, *args, broker=broker(), q_options={"save": False})


def redispatch_at(now):
    """When the sweeper sends a queued generation again if no worker took it by then."""
    return now + timedelta(seconds=settings.REDISPATCH_SECONDS)


def dispatch_run(generation_id: int) -> None:
    """Queue the generation's run once the current transaction commits."""
    transaction.on_commit(lambda: enqueue("playground.tasks.run_generation", generation_id))
