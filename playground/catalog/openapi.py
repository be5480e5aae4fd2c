"""JSON Schema for every model's input, derived from its spec.

`input_schema(spec)` is what the OpenAPI document (api/openapi.py, from the
contracts' paths) and Replicate's Cog-shaped version schema show of a model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from playground.catalog.rules import applies_text, describe
from playground.catalog.spec import MAX_URL_LENGTH, Condition, FieldSpec, ModelSpec, Rule
from playground.catalog.values import number_text


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


# -- one field, one model --------------------------------------------------------


def url_schema() -> dict[str, Any]:
    return {
        "type": "string",
        "format": "uri",
        # A host, and no whitespace: what check_url() insists on beyond "uri".
        "pattern": r"^https?://[^\s/?#]+([/?#]\S*)?$",
        "maxLength": MAX_URL_LENGTH,
    }


def field_schema(field: FieldSpec) -> dict[str, Any]:
    schema: dict[str, Any]
    if field.type in ("textarea", "text"):
        schema = {"type": "string", "maxLength": field.max_length}
        if field.required:
            # Blank text counts as not given.
            schema["pattern"] = "\\S"
    elif field.type == "select":
        values = list(field.choice_values)
        schema = {"type": "integer" if isinstance(values[0], int) else "string", "enum": values}
    elif field.type == "number":
        schema = {"type": "integer" if field.integer else "number"}
        schema["minimum"] = _json_number(field.min)
        schema["maximum"] = _json_number(field.max)
        if field.step is not None and Decimal(float(field.step)) == field.step:
            schema["multipleOf"] = _json_number(field.step)
        elif field.step is not None:
            # Validators test multipleOf in binary floating point, where 0.6
            # is not a multiple of 0.1: a 0.1 step would reject valid input.
            # The step is stated for people and tools that read extensions.
            schema["x-step"] = _json_number(field.step)
    elif field.type == "switch":
        schema = {"type": "boolean"}
    elif field.type == "image_urls":
        schema = {"type": "array", "items": url_schema(), "maxItems": field.max_items}
        if field.min_items:
            schema["minItems"] = field.min_items
    else:
        schema = url_schema()
    schema["title"] = field.label
    description = _description(field)
    if description:
        schema["description"] = description
    if field.default is not None:
        schema["default"] = field.default
    schema["x-field-type"] = field.type
    return schema


def _description(field: FieldSpec) -> str:
    parts = [field.help] if field.help else []
    if field.type == "select" and any(c.label != str(c.value) for c in field.choices):
        parts.append("; ".join(f"{c.value}: {c.label}" for c in field.choices) + ".")
    if field.type == "select" and any(isinstance(v, int) for v in field.choice_values):
        parts.append("Numeric strings are accepted too.")
    if field.type == "select" and all(isinstance(v, str) for v in field.choice_values):
        if all(v.isdigit() for v in field.choice_values):
            parts.append("Integers are accepted too.")
    if field.type == "number" and field.step is not None:
        parts.append(
            f"From {number_text(field.min)} to {number_text(field.max)}"
            f" in steps of {number_text(field.step)}."
        )
    if field.accept:
        parts.append(f"Accepted types: {', '.join(field.accept)}.")
    if field.max_bytes:
        parts.append(f"Max size: {field.max_bytes / 1048576:g} MB.")
    return " ".join(parts)


@dataclass(frozen=True)
class FieldDoc:
    """A field as the docs pages list it, read from its JSON Schema: the two agree."""

    name: str
    type: str  # a JSON type: "string", "integer", "array of URL strings"...
    required: bool
    default: str  # as JSON ("" when there is none)
    choices: list[tuple[str, str]]  # the allowed values as JSON, each with its label if it has one
    limits: list[str]  # "5 to 10", "in steps of 5", "at most 2500 characters"...
    help: str


def json_type(schema: dict[str, Any]) -> str:
    """A field schema's type in JSON's words, e.g. "string (URL)"."""
    if schema["type"] == "array":
        items = schema["items"]
        return "array of URL strings" if items.get("format") == "uri" else "array"
    if schema.get("format") == "uri":
        return "string (URL)"
    return schema["type"]


def limits(schema: dict[str, Any]) -> list[str]:
    """What a field schema allows beyond its type and choices, for people."""
    texts = []
    if "minimum" in schema:
        texts.append(f"{schema['minimum']} to {schema['maximum']}")
    step = schema.get("multipleOf", schema.get("x-step"))
    if step is not None:
        texts.append(f"in steps of {step}")
    if "maxLength" in schema and schema.get("format") != "uri":
        texts.append(f"at most {schema['maxLength']} characters")
    if "minItems" in schema:
        texts.append(f"{schema['minItems']} to {schema['maxItems']} URLs")
    elif "maxItems" in schema:
        texts.append(f"at most {schema['maxItems']} URLs")
    return texts


def field_doc(spec: ModelSpec, field: FieldSpec) -> FieldDoc:
    schema = field_schema(field)
    help_text = " ".join(part for part in (field.help, applies_text(spec, field)) if part)
    return FieldDoc(
        name=field.name,
        type=json_type(schema),
        required=field.required,
        default="" if field.default is None else json.dumps(field.default, ensure_ascii=False),
        choices=[
            (json.dumps(c.value, ensure_ascii=False), c.label if c.label != str(c.value) else "")
            for c in field.choices
        ],
        limits=limits(schema),
        help=help_text,
    )


def _condition(spec: ModelSpec, condition: Condition) -> dict[str, Any]:
    name = condition.field
    if condition.present is not None:
        required = {"required": [name]}
        return required if condition.present else {"not": required}
    values = list(condition.values or ())
    schema: dict[str, Any] = {
        "properties": {name: {"const": values[0]} if len(values) == 1 else {"enum": values}}
    }
    # An absent field takes its default: it meets the test when the default does.
    if spec.field(name).default not in values:
        schema["required"] = [name]
    return schema


def rule_schema(spec: ModelSpec, rule: Rule) -> dict[str, Any]:
    """A cross-field rule as JSON Schema if/then."""
    field = spec.field(rule.field)
    name = rule.field
    then: dict[str, Any] = {}
    constraint: dict[str, Any] = {}
    required = rule.required
    if rule.forbidden:
        then["not"] = {"required": [name]}
    if rule.one_of is not None:
        values = list(rule.one_of)
        constraint.update({"const": values[0]} if len(values) == 1 else {"enum": values})
        required = required or field.default not in values
    if rule.min_items is not None:
        constraint["minItems"] = rule.min_items
        required = required or rule.min_items > 0
    if rule.max_items is not None:
        constraint["maxItems"] = rule.max_items
    if rule.min is not None:
        constraint["minimum"] = _json_number(rule.min)
    if rule.max is not None:
        constraint["maximum"] = _json_number(rule.max)
    if rule.required and field.type in ("textarea", "text"):
        constraint["pattern"] = "\\S"  # blank text counts as not given
    if constraint:
        then["properties"] = {name: constraint}
    if required:
        then["required"] = [name]
    schema: dict[str, Any] = {"if": _when(spec, rule.when), "then": then}
    if rule.message:
        schema["description"] = rule.message
    return schema


def _when(spec: ModelSpec, conditions: tuple[Condition, ...]) -> dict[str, Any]:
    schemas = [_condition(spec, condition) for condition in conditions]
    return schemas[0] if len(schemas) == 1 else {"allOf": schemas}


def applies_schemas(spec: ModelSpec, field: FieldSpec) -> list[dict[str, Any]]:
    """A field's applies_when as if/then/else: required only where it applies
    (if it is required), nothing but its default where it does not."""
    name = field.name
    schemas = []
    if field.applies_when:
        schema: dict[str, Any] = {"if": _when(spec, field.applies_when)}
        if field.required:
            schema["then"] = {"required": [name]}
            if field.type in ("textarea", "text"):
                schema["then"]["properties"] = {name: {"pattern": "\\S"}}
        if field.default is None:
            schema["else"] = {"not": {"required": [name]}}
        else:
            schema["else"] = {"properties": {name: {"const": field.default}}}
        schema["description"] = (
            f"{name} applies only when {describe(spec, field.applies_when)}."
            + (" It is required there." if field.required else "")
        )
        schemas.append(schema)
    for index, item in enumerate(field.items):
        if item.applies_when:
            schemas.append(
                {
                    "if": _when(spec, item.applies_when),
                    "else": {"properties": {name: {"maxItems": index}}},
                    "description": f"{name}: {item.label.lower()} (image {index + 1}) only"
                    f" when {describe(spec, item.applies_when)}.",
                }
            )
    return schemas


def input_schema(spec: ModelSpec) -> dict[str, Any]:
    properties = {}
    for field in spec.fields:
        properties[field.name] = field_schema(field)
        condition = applies_text(spec, field)
        if condition:
            text = properties[field.name].get("description", "")
            properties[field.name]["description"] = f"{text} {condition}".strip()
    schema: dict[str, Any] = {
        "type": "object",
        "title": f"{spec.title} input",
        "description": spec.summary,
        "properties": properties,
        "additionalProperties": False,
    }
    # A required field that applies only sometimes is required by its if/then.
    required = [field.name for field in spec.fields if field.required and not field.applies_when]
    if required:
        schema["required"] = required
    all_of = [rule_schema(spec, rule) for rule in spec.rules]
    for field in spec.fields:
        all_of.extend(applies_schemas(spec, field))
    if all_of:
        schema["allOf"] = all_of
    if spec.examples:
        schema["examples"] = [example.input for example in spec.examples]
    return schema
