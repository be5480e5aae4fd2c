"""The one validator: every API contract and the playground form call validate()."""

from __future__ import annotations

import difflib
from typing import Any

from playground.catalog.errors import ValidationFailed
from playground.catalog.rules import applies, applies_error, describe, rule_error
from playground.catalog.spec import FieldSpec, ModelSpec
from playground.catalog.values import Invalid, coerce, is_blank


def validate_spec(spec: ModelSpec, input: Any) -> dict[str, Any]:
    if not isinstance(input, dict):
        raise ValidationFailed(
            {"input": [f"Must be an object of field values ({', '.join(spec.field_names)})."]}
        )
    errors: dict[str, list[str]] = {}
    normalized: dict[str, Any] = {}
    missing = []
    for field in spec.fields:
        raw = input.get(field.name)
        if is_blank(raw):
            if field.required:
                missing.append(field)
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

    # Whether a field applies depends on the others' values, known only now;
    # one whose conditions read a refused value is not judged (noise).
    for field in spec.fields:
        if field.depends_on & errors.keys():
            continue
        if field in missing and applies(field, normalized):
            errors[field.name] = [_required(spec, field)]
        if field.name in errors:
            continue
        message = applies_error(spec, field, normalized)
        if message is not None:
            errors[field.name] = [message]

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


def _required(spec: ModelSpec, field: FieldSpec) -> str:
    if field.applies_when:
        return f"Required when {describe(spec, field.applies_when)}."
    return "This field is required."


def _unknown(spec: ModelSpec, key: str) -> str:
    close = difflib.get_close_matches(key, spec.field_names, n=1, cutoff=0.6)
    if close:
        return f"Unknown field '{key}'. Did you mean '{close[0]}'?"
    return f"Unknown field '{key}'. {spec.id} takes {', '.join(spec.field_names)}."
