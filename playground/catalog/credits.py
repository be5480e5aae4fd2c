"""Credits: a price of a spec's table in credits, rounded once, and the lowest one.

USD converts to credits through `settings.CREDIT_USD`, the USD value of one
credit, read at every call so an operator's change applies at once.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:  # types only: spec.py asks lowest_price for its price_from
    from playground.catalog.spec import ModelSpec

CENT = Decimal("0.01")
DEFAULT_CREDIT_USD = Decimal("0.01")


def credit_usd() -> Decimal:
    value = getattr(settings, "CREDIT_USD", DEFAULT_CREDIT_USD)
    # str() first: a float setting must not leak binary noise into prices.
    value = value if isinstance(value, Decimal) else Decimal(str(value))
    if not value.is_finite() or value <= 0:
        raise ValueError(f"CREDIT_USD must be a positive number, not {value}")
    return value


def to_credits(spec: ModelSpec, price: Decimal) -> Decimal:
    """A price of the spec's table in credits, unrounded."""
    if spec.pricing.currency == "usd":
        return price / credit_usd()
    return price


def round_credits(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def lowest_price(spec: ModelSpec) -> Decimal:
    """The cheapest input's price in credits; every row is reachable (the loader checks)."""
    pricing = spec.pricing
    cheapest = min(to_credits(spec, row.price) for row in pricing.rows)
    if pricing.per == "second":
        field = spec.field(pricing.seconds_field)
        if field.type == "number":
            cheapest *= field.min
        else:
            cheapest *= min(Decimal(str(value)) for value in field.choice_values)
    return round_credits(cheapest)
