"""Prices: a spec's pricing table applied to validated input, in credits.

Seed prices come in credits (seeds 000, 001) or in USD (seed 002). USD
converts to credits through `settings.CREDIT_USD`, the USD value of one
credit, read at every quote so an operator's change applies at once. Amounts
are Decimal from the spec file to the quote; the result has two places,
rounded half up once, at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from playground.catalog.credits import round_credits, to_credits
from playground.catalog.errors import ValidationFailed
from playground.catalog.rules import all_match
from playground.catalog.values import number_text

if TYPE_CHECKING:
    from playground.catalog.spec import ModelSpec, PriceRow


@dataclass(frozen=True)
class Quote:
    model: str
    credits: Decimal
    breakdown: str

    def __str__(self) -> str:
        return self.breakdown


def quote_spec(spec: ModelSpec, normalized: dict[str, Any]) -> Quote:
    """The price of validate()'s output for this spec."""
    pricing = spec.pricing
    keys = {name: normalized.get(name, spec.field(name).default) for name in pricing.by}
    row = _row(spec, keys)
    rate = to_credits(spec, row.price)
    labels = [label for name in pricing.by if (label := _label(spec, name, keys[name]))]
    if pricing.per == "job":
        credits = round_credits(rate)
        return Quote(spec.id, credits, f"{' · '.join(labels) or 'per job'} = {credits} credits")
    seconds_value = normalized.get(pricing.seconds_field, spec.field(pricing.seconds_field).default)
    if seconds_value is None:
        # Never a free job: a per-second price needs the seconds.
        raise ValidationFailed({pricing.seconds_field: ["This field is required."]})
    seconds = Decimal(str(seconds_value))
    credits = round_credits(rate * seconds)
    parts = " · ".join([*labels, f"{number_text(seconds)} s"])
    return Quote(spec.id, credits, f"{parts} × {_rate_text(rate)} credits/s = {credits} credits")


def _row(spec: ModelSpec, keys: dict[str, Any]) -> PriceRow:
    rows = [row for row in spec.pricing.rows if all_match(row.when, keys)]
    if len(rows) != 1:
        # The loader proves every input the rules allow has one row; this is
        # reached only with input that did not go through validate().
        shown = ", ".join(f"{k} {spec.field(k).display(v)}" for k, v in keys.items())
        raise ValidationFailed({"input": [f"No price for {spec.id} with {shown}."]})
    return rows[0]


def _label(spec: ModelSpec, name: str, value: Any) -> str:
    field = spec.field(name)
    template = spec.pricing.labels.get(name)
    if field.type == "switch":
        # A switch shows up in the breakdown only when on: "pro · 10 s · audio".
        return (template or name) if value else ""
    text = field.display(value)
    if template:
        return template.replace("{}", text)
    return text


def _rate_text(rate: Decimal) -> str:
    rounded = round_credits(rate)
    if rounded == rate:
        return str(rounded)
    return "≈" + number_text(rate.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))
