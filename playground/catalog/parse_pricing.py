"""Parsing `pricing`, and proving its table prices every input the rules allow."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from playground.catalog.errors import SpecError
from playground.catalog.parse_rules import parse_conditions
from playground.catalog.rules import all_match, applies_error, is_broken
from playground.catalog.spec import FieldSpec, ModelSpec, PriceRow, Pricing, map_key
from playground.catalog.specreader import Reader

_PRICING_KEYS = {"currency", "per", "seconds_field", "by", "labels", "rows", "price", "source"}


def _price(file: str, path: str, raw: Any) -> Decimal:
    # Strings ("0.0159") or JSON numbers, which parse_float turns into exact
    # Decimals: a price never passes through float.
    if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
        raise SpecError(file, path, 'must be a decimal number or a string like "0.0159"')
    try:
        value = Decimal(raw)
    except ArithmeticError:
        raise SpecError(file, path, f"{raw!r} is not a decimal number") from None
    if not value.is_finite() or value < 0:
        raise SpecError(file, path, "must be zero or more")
    return value


def parse_pricing(file: str, raw: Any, fields: dict[str, FieldSpec]) -> Pricing:
    r = Reader(file, "pricing", raw, _PRICING_KEYS)
    currency = r.string("currency")
    if currency not in ("credits", "usd"):
        r.fail("currency", "must be 'credits' or 'usd' (USD converts through CREDIT_USD)")
    per = r.string("per")
    if per not in ("job", "second"):
        r.fail("per", "must be 'job' or 'second'")
    by = r.strings("by")
    for index, name in enumerate(by):
        where = f"{r.at('by')}[{index}]"
        if name not in fields:
            raise SpecError(file, where, f"no field named '{name}'")
        field = fields[name]
        # Prices are tables over finite choices that always have a value.
        if field.type not in ("select", "switch"):
            raise SpecError(file, where, "must name a select or switch field")
        if not field.required and field.default is None:
            raise SpecError(file, where, f"'{name}' must be required or have a default")
    seconds_field = None
    if per == "second":
        seconds_field = r.string("seconds_field")
        field = fields.get(seconds_field)
        if field is None:
            r.fail("seconds_field", f"no field named '{seconds_field}'")
        numeric_select = field.type == "select" and all(
            isinstance(value, int) or value.isdigit() for value in field.choice_values
        )
        if field.type != "number" and not numeric_select:
            r.fail("seconds_field", "must name a number field or a select of whole seconds")
        if not field.required and field.default is None:
            r.fail("seconds_field", f"'{seconds_field}' must be required or have a default")
    elif r.has("seconds_field"):
        r.fail("seconds_field", "only for per: second")
    labels = r.get("labels", {})
    if not isinstance(labels, dict):
        r.fail("labels", "must be an object of field: label")
    for name, label in labels.items():
        if name not in by or not isinstance(label, str) or not label:
            r.fail("labels", f"'{name}': labels name a field of 'by' and are non-empty strings")
    if r.has("price") == r.has("rows"):
        r.fail("price", "give either price (one price) or rows (a table)")
    if r.has("price"):
        if by:
            r.fail("price", "a single price takes no 'by'")
        rows = (PriceRow(when=(), price=_price(file, r.at("price"), r.get("price"))),)
    else:
        rows = tuple(
            _parse_price_row(file, f"pricing.rows[{i}]", row, fields, by)
            for i, row in enumerate(r.items("rows"))
        )
        if not rows:
            r.fail("rows", "must not be empty")
    return Pricing(
        currency=currency,
        per=per,
        rows=rows,
        by=tuple(by),
        seconds_field=seconds_field,
        labels=dict(labels),
        source=r.string("source"),
    )


def _parse_price_row(
    file: str, path: str, raw: Any, fields: dict[str, FieldSpec], by: list[str]
) -> PriceRow:
    r = Reader(file, path, raw, {"when", "price"})
    when = parse_conditions(file, r.at("when"), r.get("when", {}), fields, allow_empty=True)
    for condition in when:
        if condition.field not in by or condition.values is None:
            r.fail("when", f"'{condition.field}': rows match values of the fields in 'by'")
    return PriceRow(when=when, price=_price(file, r.at("price"), r.get("price")))


def check_price_table(file: str, spec: ModelSpec) -> None:
    """Every input the rules allow has exactly one price row, and every row is reachable.

    The `by` fields are finite, so all their combinations are enumerated; rules
    that only involve `by` fields drop the combinations they forbid, and so
    do `by` fields that do not apply (seed 002 has no std row with audio
    because audio applies only in pro mode).
    """
    pricing = spec.pricing
    domains = []
    for name in pricing.by:
        field = spec.field(name)
        domains.append((False, True) if field.type == "switch" else field.choice_values)
    rules = [rule for rule in spec.rules if rule.fields <= set(pricing.by)]
    conditional = [
        spec.field(name)
        for name in pricing.by
        if spec.field(name).depends_on and spec.field(name).depends_on <= set(pricing.by)
    ]
    used: set[int] = set()
    for combination in itertools.product(*domains):
        normalized = dict(zip(pricing.by, combination, strict=True))
        if any(is_broken(spec, rule, normalized) for rule in rules):
            continue
        if any(applies_error(spec, field, normalized) for field in conditional):
            continue
        hits = [i for i, row in enumerate(pricing.rows) if all_match(row.when, normalized)]
        shown = ", ".join(f"{k}={map_key(v)}" for k, v in normalized.items()) or "every input"
        if not hits:
            raise SpecError(file, "pricing.rows", f"no row prices {shown}")
        if len(hits) > 1:
            raise SpecError(file, f"pricing.rows[{hits[1]}]", f"overlaps row {hits[0]} on {shown}")
        used.add(hits[0])
    for index in range(len(pricing.rows)):
        if index not in used:
            raise SpecError(file, f"pricing.rows[{index}]", "prices no input the rules allow")
