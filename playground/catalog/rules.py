"""The cross-field rule language, evaluated on normalized input.

A rule reads: when every condition of `when` holds, `field` must meet the
rule's constraints. A condition is `{"field": value}`, `{"field": [v1, v2]}`
(any of) or `{"field": {"present": true|false}}`. Constraints: `required`,
`forbidden`, `one_of` (`equals` in a spec is a one_of of one value),
`min_items`/`max_items` (an absent list counts as 0 items) and `min`/`max`.
Price rows use the same conditions to say which inputs they price, and a
field's `applies_when` the same conditions to say when it applies: when they
do not hold, the field takes no value but its default (an image_urls item's
`applies_when` says when the list may reach that item).
"""

from __future__ import annotations

from typing import Any

from playground.catalog.spec import Condition, FieldSpec, ModelSpec, Rule
from playground.catalog.values import number_text, parse_number


def matches(condition: Condition, normalized: dict[str, Any]) -> bool:
    if condition.present is not None:
        return (condition.field in normalized) == condition.present
    if condition.field not in normalized:
        return False
    value = normalized[condition.field]
    # Type-strict: True must not match a choice 1.
    return any(type(value) is type(v) and value == v for v in condition.values or ())


def all_match(conditions: tuple[Condition, ...], normalized: dict[str, Any]) -> bool:
    return all(matches(condition, normalized) for condition in conditions)


def describe(spec: ModelSpec, conditions: tuple[Condition, ...]) -> str:
    return " and ".join(c.describe(spec.field(c.field)) for c in conditions)


def describe_when(spec: ModelSpec, rule: Rule) -> str:
    return describe(spec, rule.when)


def applies_text(spec: ModelSpec, field: FieldSpec) -> str:
    """When the field applies, for people: "Applies only when mode is pro." ("" if always)."""
    parts = []
    if field.applies_when:
        parts.append(f"Applies only when {describe(spec, field.applies_when)}.")
    for number, item in enumerate(field.items, start=1):
        if item.applies_when:
            parts.append(
                f"{item.label} (image {number}) only when {describe(spec, item.applies_when)}."
            )
    return " ".join(parts)


def applies_error(spec: ModelSpec, field: FieldSpec, normalized: dict[str, Any]) -> str | None:
    """The message if `field` holds a value where it does not apply, else None.

    A field that does not apply may still hold its default: that is what it
    holds anyway (a switch is off), and clients that send every default must
    not be refused for it.
    """
    if field.name not in normalized:
        return None
    value = normalized[field.name]
    if field.applies_when and not all_match(field.applies_when, normalized):
        if value == field.default and type(value) is type(field.default):
            return None
        got = f" (got {field.display(value)})" if field.type not in _URL_FIELDS else ""
        return f"Applies only when {describe(spec, field.applies_when)}{got}."
    for index, item in enumerate(field.items):
        if len(value) > index and not all_match(item.applies_when, normalized):
            return (
                f"{item.label} (image {index + 1}) applies only when"
                f" {describe(spec, item.applies_when)} (got {_items(len(value))})."
            )
    return None


def applies(field: FieldSpec, normalized: dict[str, Any]) -> bool:
    return all_match(field.applies_when, normalized)


def rule_error(spec: ModelSpec, rule: Rule, normalized: dict[str, Any]) -> str | None:
    """The message for `field` if the rule applies and is broken, else None."""
    if not all_match(rule.when, normalized):
        return None
    problem = _problem(spec.field(rule.field), rule, normalized)
    if problem is None:
        return None
    what, got = problem
    if rule.message:
        return rule.message
    return f"{what} when {describe_when(spec, rule)}{f' (got {got})' if got else ''}."


def is_broken(spec: ModelSpec, rule: Rule, normalized: dict[str, Any]) -> bool:
    return rule_error(spec, rule, normalized) is not None


def _problem(field: FieldSpec, rule: Rule, normalized: dict[str, Any]) -> tuple[str, str] | None:
    """What is wrong and the value that is wrong ("" when nothing to show)."""
    present = rule.field in normalized
    value = normalized.get(rule.field)
    if rule.required and not present:
        return "Required", ""
    if rule.forbidden and present:
        return "Not allowed", ""
    if rule.one_of is not None and present and value not in rule.one_of:
        wanted = " or ".join(field.display(v) for v in rule.one_of)
        return f"Must be {wanted}", field.display(value)
    if rule.min_items is not None or rule.max_items is not None:
        count = len(value) if present else 0
        if rule.min_items is not None and count < rule.min_items:
            return f"Needs at least {_items(rule.min_items)}", str(count)
        if rule.max_items is not None and count > rule.max_items:
            return f"Takes at most {_items(rule.max_items)}", str(count)
    if present and (rule.min is not None or rule.max is not None):
        number = parse_number(value)
        if rule.min is not None and number < rule.min:
            return f"Must be at least {number_text(rule.min)}", number_text(number)
        if rule.max is not None and number > rule.max:
            return f"Must be at most {number_text(rule.max)}", number_text(number)
    return None


_URL_FIELDS = ("image_url", "image_urls", "video_url")


def _items(count: int) -> str:
    return f"{count} image" if count == 1 else f"{count} images"
