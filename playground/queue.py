"""Handing work to django-q2. Always after the transaction commits.

async_task() builds a new broker (for Redis, a new client) on every call
unless one is passed; one broker per process is several times faster.
"""

import os
from collections.abc import Mapping
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django_q.brokers import Broker, get_broker
from django_q.tasks import async_task

_brokers: dict[str | None, tuple[int, Broker]] = {}


def broker(queue: str | None = None) -> Broker:
    """The broker of `queue` (None: the main cluster's), one per process."""
    held = _brokers.get(queue)
    if held is None or held[0] != os.getpid():  # a forked worker builds its own
        held = _brokers[queue] = (os.getpid(), get_broker(queue))
    return held[1]


def enqueue(func: str, *args, render: bool = False) -> None:
    """Queue a task; `render`: one that renders here, for the render cluster when there is one."""
    queue = settings.RENDER_QUEUE if render and settings.RENDER_WORKERS else None
    # Our rows hold every state, so django-q2 need not save successful results.
    async_task(func, *args, broker=broker(queue), q_options={"save": False})


def render_cluster_env(env: Mapping[str, str]) -> dict[str, str]:
    """`env` for a `manage.py qcluster` that serves the render queue (RENDER_WORKERS)."""
    return {**env, "Q_CLUSTER_NAME": settings.RENDER_QUEUE}


def redispatch_at(now):
    """When the sweeper sends a queued generation again if no worker took it by then."""
    return now + timedelta(seconds=settings.REDISPATCH_SECONDS)


def dispatch_run(generation_id: int, *, render: bool = False) -> None:
    """Queue the generation's run once the current transaction commits."""
    transaction.on_commit(lambda: run(generation_id, render=render))


def run(generation_id: int, *, render: bool = False) -> None:
    """Send the generation's run to the workers.

    A render (its first provider renders here) is not sent by id: the render
    queue gets a turn, and the worker that takes it renders whichever queued
    render is next, teams in turn (tasks.render_next), rather than first in,
    first out across every team.
    """
    if render:
        enqueue("playground.tasks.render_next", render=True)
    else:
        enqueue("playground.tasks.run_generation", generation_id)
