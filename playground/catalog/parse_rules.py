"""Parsing `rules` and the `when` conditions that rules and price rows share."""

from __future__ import annotations

from typing import Any

from playground.catalog.errors import SpecError
from playground.catalog.spec import Condition, FieldSpec, Rule
from playground.catalog.specreader import Reader, field_value

_RULE_KEYS = {
    "when",
    "field",
    "required",
    "forbidden",
    "equals",
    "one_of",
    "min_items",
    "max_items",
    "min",
    "max",
    "message",
}


def parse_conditions(
    file: str, path: str, raw: Any, fields: dict[str, FieldSpec], *, allow_empty: bool = False
) -> tuple[Condition, ...]:
    if not isinstance(raw, dict) or (not raw and not allow_empty):
        raise SpecError(file, path, "must be a non-empty object of field: value")
    conditions = []
    for name, test in raw.items():
        where = f"{path}.{name}"
        if name not in fields:
            raise SpecError(file, where, f"no field named '{name}'")
        field = fields[name]
        if isinstance(test, dict):
            item = Reader(file, where, test, {"present"})
            if not item.has("present"):
                item.fail("present", "is required")
            conditions.append(Condition(name, present=item.boolean("present")))
            continue
        tests = test if isinstance(test, list) and field.type != "image_urls" else [test]
        if not tests:
            raise SpecError(file, where, "must list at least one value")
        values = tuple(field_value(file, where, field, value) for value in tests)
        conditions.append(Condition(name, values=values))
    return tuple(conditions)


def parse_rule(file: str, path: str, raw: Any, fields: dict[str, FieldSpec]) -> Rule:
    r = Reader(file, path, raw, _RULE_KEYS)
    name = r.string("field")
    if name not in fields:
        r.fail("field", f"no field named '{name}'")
    field = fields[name]
    when = parse_conditions(file, r.at("when"), r.get("when"), fields)
    one_of = None
    if r.has("equals") and r.has("one_of"):
        r.fail("equals", "use equals or one_of, not both")
    if r.has("equals"):
        one_of = (field_value(file, r.at("equals"), field, r.get("equals")),)
    elif r.has("one_of"):
        one_of = tuple(
            field_value(file, f"{r.at('one_of')}[{i}]", field, value)
            for i, value in enumerate(r.items("one_of"))
        )
        if not one_of:
            r.fail("one_of", "must not be empty")
    if field.type != "image_urls" and (r.has("min_items") or r.has("max_items")):
        r.fail("min_items" if r.has("min_items") else "max_items", "applies to image_urls fields")
    if field.type != "number" and (r.has("min") or r.has("max")):
        r.fail("min" if r.has("min") else "max", "applies to number fields")
    rule = Rule(
        when=when,
        field=name,
        required=r.boolean("required"),
        forbidden=r.boolean("forbidden"),
        one_of=one_of,
        min_items=r.integer("min_items", minimum=0),
        max_items=r.integer("max_items", minimum=0),
        min=r.number("min"),
        max=r.number("max"),
        message=r.string("message", ""),
    )
    if rule.required and rule.forbidden:
        r.fail("forbidden", "a rule cannot both require and forbid its field")
    constraints = (rule.one_of, rule.min_items, rule.max_items, rule.min, rule.max)
    if not (rule.required or rule.forbidden or any(c is not None for c in constraints)):
        r.fail("field", "the rule constrains nothing (add required, forbidden, equals, ...)")
    return rule
