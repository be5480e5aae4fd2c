"""Parsing `rules`, fields' `applies_when`, and the `when` conditions they and price rows share."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from playground.catalog.errors import SpecError
from playground.catalog.spec import Condition, FieldSpec, ItemSpec, Rule
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


def parse_applies(file: str, raw: dict[str, Any], fields: dict[str, FieldSpec]) -> FieldSpec:
    """A field's `applies_when` and `items`: they name other fields, so they are
    read once every field is known (parse_field has checked the rest of `raw`)."""
    field = fields[raw["name"]]
    path = f"fields.{field.name}"
    applies_when = ()
    if "applies_when" in raw:
        where = f"{path}.applies_when"
        applies_when = _applies_when(file, where, raw["applies_when"], field, fields)
    items: list[ItemSpec] = []
    if "items" in raw:
        where = f"{path}.items"
        raw_items = raw["items"]
        if not isinstance(raw_items, list) or len(raw_items) != field.max_items:
            raise SpecError(file, where, f"must list one item per image ({field.max_items})")
        for index, raw_item in enumerate(raw_items):
            item = Reader(file, f"{where}[{index}]", raw_item, {"label", "applies_when"})
            when = ()
            if item.has("applies_when"):
                if index == 0:
                    item.fail("applies_when", "the first image applies with the field itself")
                when = _applies_when(
                    file, item.at("applies_when"), item.get("applies_when"), field, fields
                )
            items.append(ItemSpec(label=item.string("label"), applies_when=when))
    return replace(field, applies_when=applies_when, items=tuple(items))


def _applies_when(
    file: str, path: str, raw: Any, field: FieldSpec, fields: dict[str, FieldSpec]
) -> tuple[Condition, ...]:
    conditions = parse_conditions(file, path, raw, fields)
    for condition in conditions:
        if condition.field == field.name:
            raise SpecError(file, f"{path}.{field.name}", "a field cannot depend on itself")
    return conditions


def check_applies_cycles(file: str, fields: dict[str, FieldSpec]) -> None:
    """No field may apply depending, through others, on itself: the form could never settle."""
    depends = {name: field.depends_on for name, field in fields.items()}

    def visit(name: str, trail: list[str]) -> None:
        for other in sorted(depends[name]):
            if other == trail[0]:
                chain = " → ".join([*trail, other])
                raise SpecError(
                    file, f"fields.{trail[0]}.applies_when", f"depends on itself ({chain})"
                )
            if other not in trail:
                visit(other, [*trail, other])

    for name in fields:
        visit(name, [name])
