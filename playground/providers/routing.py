"""Which providers make a model's generation, in the order to try them.

By ascending priority; within one priority, the cheapest for the model first
(`Provider.costs`; a provider without a cost for it after those with one);
among equals, a random order weighted by `Provider.weight`, so the work
spreads in those shares. A provider whose circuit breaker is open
(breaker.py) is passed over: it is tried only after every other one, so a
model served by that provider alone still gets its answer.
"""

from __future__ import annotations

import random
from decimal import Decimal

from playground.models import Provider


def route(model_id: str) -> list[Provider]:
    # Credentials are read only by the worker that uses a row: decrypting
    # them for every row on every submit would be wasted.
    rows = [
        row
        for row in Provider.objects.filter(enabled=True).defer("credentials")
        if row.serves(model_id)
    ]
    return sorted(rows, key=lambda row: _rank(row, model_id))


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
