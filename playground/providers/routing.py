"""Which providers make a model's generation, in the order to try them.

By ascending priority; within one priority, the cheapest for the model first
(`Provider.costs`; a provider without a cost for it after those with one);
among equals, a random order weighted by `Provider.weight`, so the work
spreads in those shares. A provider whose circuit breaker is open
(breaker.py) is passed over: it is tried only after every other one, so a
model served by that provider alone still gets its answer.

A create routes on every call, and the enabled rows change only when an
admin edits a provider or a breaker opens or closes. So a create may route
on the rows as this process read them at most SNAPSHOT_SECONDS ago (`route`
with `max_age`): one query a second instead of one per create. A change
made in this process drops the snapshot at once (a Provider saved or
deleted, a breaker moving); one made in another process is seen within
SNAPSHOT_SECONDS. Workers and pollers read the rows afresh (the default):
they decrypt credentials on the rows they are given, which a shared
snapshot must not hold.
"""

from __future__ import annotations

import random
import time
from decimal import Decimal

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from playground.models import Provider

SNAPSHOT_SECONDS = 1.0

# (time.monotonic() when read, the enabled rows); replaced whole, never
# changed in place, so threads may share it without a lock.
_snapshot: tuple[float, list[Provider]] | None = None


def route(model_id: str, *, max_age: float = 0) -> list[Provider]:
    """The enabled rows that serve `model_id`, in the order to try them, read at
    most `max_age` seconds ago (0: now)."""
    rows = [row for row in _enabled(max_age) if row.serves(model_id)]
    return sorted(rows, key=lambda row: _rank(row, model_id))


def _enabled(max_age: float) -> list[Provider]:
    global _snapshot
    held = _snapshot
    if max_age > 0 and held is not None and time.monotonic() - held[0] <= max_age:
        return held[1]
    # Credentials are read only by the worker that uses a row: decrypting
    # them for every row on every submit would be wasted.
    rows = list(Provider.objects.filter(enabled=True).defer("credentials"))
    if max_age > 0:
        _snapshot = (time.monotonic(), rows)
    return rows


@receiver(post_save, sender=Provider, dispatch_uid="routing-forget-saved")
@receiver(post_delete, sender=Provider, dispatch_uid="routing-forget-deleted")
def forget(**kwargs) -> None:
    """Drop this process's snapshot: the next create reads the rows again."""
    global _snapshot
    _snapshot = None


def _rank(row: Provider, model_id: str) -> tuple:
    cooling = row.cooling_until is not None
    cost = row.cost_for(model_id)
    # Efraimidis–Spirakis: sorting by u^(1/w), largest first, draws a
    # weighted random order.
    draw = random.random() ** (1 / max(1, row.weight))
    return (
        cooling,
        row.priority,
        cost is None,
        cost if cost is not None else Decimal(0),
        -draw,
    )
