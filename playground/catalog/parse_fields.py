"""Parsing the `fields` of a spec (loader.py documents each type's attributes)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from playground.catalog.errors import SpecError
from playground.catalog.spec import FIELD_TYPES, TEXT_TYPES, URL_TYPES, Choice, FieldSpec
from playground.catalog.specreader import Reader
from playground.catalog.values import Invalid, coerce, is_blank

_FIELD_NAME_RE = re.compile(r"[a-z][a-z0-9_]*\Z")
_MIME_RE = re.compile(r"[a-z]+/[a-z0-9.+-]+\Z")

# applies_when and items name other fields: parse_rules.parse_applies reads
# them once every field is known.
_FIELD_KEYS = {"name", "type", "label", "help", "required", "default", "applies_when"}
_FIELD_EXTRA_KEYS = {
    "textarea": {"max_length"},
    "text": {"max_length"},
    "select": {"choices", "unit"},
    "number": {"min", "max", "step", "integer", "unit"},
    "switch": set(),
    "image_url": {"accept", "max_bytes"},
    "image_urls": {"min_items", "max_items", "accept", "max_bytes", "items"},
    "video_url": {"accept", "max_bytes"},
}


def parse_field(file: str, path: str, raw: Any) -> FieldSpec:
    if not isinstance(raw, dict):
        raise SpecError(file, path, "must be a JSON object")
    name = raw.get("name")
    if not isinstance(name, str) or not _FIELD_NAME_RE.match(name):
        raise SpecError(file, f"{path}.name", "must be a lower-case identifier like 'aspect_ratio'")
    path = f"fields.{name}"
    field_type = raw.get("type")
    if field_type not in FIELD_TYPES:
        raise SpecError(file, f"{path}.type", f"must be one of {', '.join(FIELD_TYPES)}")
    r = Reader(file, path, raw, _FIELD_KEYS | _FIELD_EXTRA_KEYS[field_type])
    attrs: dict[str, Any] = {
        "name": name,
        "type": field_type,
        "label": r.string("label", name.replace("_", " ").capitalize()),
        "help": r.string("help", ""),
        "required": r.boolean("required"),
    }
    if field_type in TEXT_TYPES:
        attrs["max_length"] = r.integer("max_length", minimum=1, required=True)
    elif field_type == "select":
        attrs["choices"] = _parse_choices(r)
        attrs["unit"] = r.string("unit", "")
    elif field_type == "number":
        attrs.update(_parse_number_attrs(r))
    elif field_type == "image_urls":
        min_items = r.integer("min_items", minimum=0) or 0
        max_items = r.integer("max_items", minimum=1, required=True)
        if min_items > max_items:
            r.fail("min_items", "must not be above max_items")
        attrs.update(min_items=min_items, max_items=max_items)
    if field_type in (*URL_TYPES, "image_urls"):
        attrs["accept"] = tuple(r.strings("accept", pattern=_MIME_RE))
        attrs["max_bytes"] = r.integer("max_bytes", minimum=1)
    field = FieldSpec(**attrs)

    raw_default = r.get("default")
    if raw_default is None:
        # An unchecked switch is false: its default is never "absent".
        return replace(field, default=False) if field_type == "switch" else field
    if field.required:
        r.fail("default", "a required field cannot have a default")
    if field_type in (*URL_TYPES, "image_urls"):
        r.fail("default", "URL fields take no default")
    if is_blank(raw_default):
        r.fail("default", "must not be empty (leave it out instead)")
    try:
        return replace(field, default=coerce(field, raw_default))
    except Invalid as error:
        r.fail("default", error.message)


def _parse_choices(r: Reader) -> tuple[Choice, ...]:
    raw_choices = r.items("choices", required=True)
    if not raw_choices:
        r.fail("choices", "must not be empty")
    choices = []
    for index, raw in enumerate(raw_choices):
        where = f"{r.at('choices')}[{index}]"
        if isinstance(raw, dict):
            item = Reader(r.file, where, raw, {"value", "label"})
            value, label = raw.get("value"), item.string("label", "") or None
        else:
            value, label = raw, None
        valid = isinstance(value, str) and value == value.strip() and value
        valid = valid or (isinstance(value, int) and not isinstance(value, bool))
        if not valid:
            raise SpecError(
                r.file, where, "must be a string without surrounding spaces or an integer"
            )
        choices.append(Choice(value=value, label=label or str(value)))
    if len({type(choice.value) for choice in choices}) > 1:
        r.fail("choices", "must be all strings or all integers")
    values = [str(choice.value) for choice in choices]
    if len(set(values)) != len(values):
        r.fail("choices", "must not repeat a value")
    return tuple(choices)


def _parse_number_attrs(r: Reader) -> dict[str, Any]:
    # Both bounds are required: an unbounded duration would let one request
    # keep a renderer busy for hours.
    minimum = r.number("min", required=True)
    maximum = r.number("max", required=True)
    step = r.number("step")
    integer = r.boolean("integer")
    if minimum > maximum:
        r.fail("min", "must not be above max")
    if step is not None:
        if step <= 0:
            r.fail("step", "must be positive")
        if integer and step != step.to_integral_value():
            r.fail("step", "must be a whole number for an integer field")
        # JSON Schema's multipleOf counts from 0, browsers from min: they
        # agree only when min is itself on the step.
        if minimum % step != 0:
            r.fail("min", "must be a multiple of step")
    if integer:
        for key, value in (("min", minimum), ("max", maximum)):
            if value != value.to_integral_value():
                r.fail(key, "must be a whole number for an integer field")
    return {
        "min": minimum,
        "max": maximum,
        "step": step,
        "integer": integer,
        "unit": r.string("unit", ""),
    }
