"""The one validator: every API contract and the playground form call validate()."""

from __future__ import annotations

import difflib
from typing import Any

from playground.catalog.errors import ValidationFailed
from playground.catalog.rules import rule_error
from playground.catalog.spec import ModelSpec
from playground.catalog.values import Invalid, coerce, is_blank


def validate_spec(spec: ModelSpec, input: Any) -> dict[str, Any]:
    if not isinstance(input, dict):
        raise ValidationFailed(
            {"input": [f"Must be an object of field values ({', '.join(spec.field_names)})."]}
        )
    errors: dict[str, list[str]] = {}
    normalized: dict[str, Any] = {}
    for field in spec.fields:
        raw = input.get(field.name)
        if is_blank(raw):
            if field.required:
                errors[field.name] = ["This field is required."]
            elif field.default is not None:
                normalized[field.name] = field.default
            continue
        try:
            normalized[field.name] = coerce(field, raw)
        except Invalid as error:
            errors[field.name] = [error.message]

    for key in input:
        if key not in spec.field_names:
            errors[str(key)] = [_unknown(spec, str(key))]

    for rule in spec.rules:
        # A rule over a field that already failed would only add noise.
        if rule.fields & errors.keys():
            continue
        message = rule_error(spec, rule, normalized)
        if message is not None:
            errors.setdefault(rule.field, []).append(message)

    if errors:
        raise ValidationFailed(errors)
    return normalized


def _unknown(spec: ModelSpec, key: str) -> str:
    close = difflib.get_close_matches(key, spec.field_names, n=1, cutoff=0.6)
    if close:
        return f"Unknown field '{key}'. Did you mean '{close[0]}'?"
    return f"Unknown field '{key}'. {spec.id} takes {', '.join(spec.field_names)}."
