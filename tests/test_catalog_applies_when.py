"""When a field applies: one spec rule, read the same by the validator, the
form (server side, and its data-applies-when as the page's script reads it)
and the JSON Schema.

The cases are generated from the specs: every field (and image item) with an
applies_when, under every value of the fields its conditions name, given a
value and left out.
"""

import itertools
import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from playground import catalog
from playground.catalog.spec import Condition, FieldSpec, ModelSpec

URL = "https://example.com/media/frame.png"
ABSENT = object()


def targets() -> list[tuple[ModelSpec, FieldSpec, int | None]]:
    """(spec, field, item index or None) for every conditional field and image item."""
    found = []
    for spec in catalog.all_specs():
        for field in spec.fields:
            if field.applies_when:
                found.append((spec, field, None))
            for index, item in enumerate(field.items):
                if item.applies_when:
                    found.append((spec, field, index))
    return found


TARGETS = targets()


def conditions(field: FieldSpec, index: int | None) -> tuple[Condition, ...]:
    if index is None:
        return field.applies_when
    return field.applies_when + field.items[index].applies_when


def domain(spec: ModelSpec, condition: Condition) -> list[Any]:
    """Every value a condition's field can take here, and left out."""
    field = spec.field(condition.field)
    if field.type == "select":
        return [*field.choice_values, ABSENT]
    if field.type == "switch":
        return [True, False, ABSENT]
    if condition.present is not None:
        return [given_value(field), ABSENT]
    return [*(condition.values or ()), ABSENT]


def given_value(field: FieldSpec) -> Any:
    """A valid value other than the field's default."""
    if field.type == "switch":
        return not field.default
    if field.type == "select":
        return next(value for value in field.choice_values if value != field.default)
    if field.type == "number":
        return int(field.max) if field.integer else float(field.max)
    if field.type in ("textarea", "text"):
        return "x"
    if field.type == "image_urls":
        return [URL]
    return URL


def cases():
    for spec, field, index in TARGETS:
        names = list(dict.fromkeys(c.field for c in conditions(field, index)))
        domains = [
            domain(spec, next(c for c in conditions(field, index) if c.field == name))
            for name in names
        ]
        for values in itertools.product(*domains):
            for given in (True, False):
                payload = dict(spec.examples[0].input)
                for name, value in zip(names, values, strict=True):
                    payload.pop(name, None)
                    if value is not ABSENT:
                        payload[name] = value
                payload.pop(field.name, None)
                if index is not None:
                    # The item given or not: as many images as reach it, or one fewer.
                    count = index + 1 if given else index
                    if count:
                        payload[field.name] = [URL] * count
                elif given:
                    payload[field.name] = given_value(field)
                label = field.name if index is None else f"{field.name}[{index}]"
                shown = ",".join(
                    f"{n}={'-' if v is ABSENT else v}" for n, v in zip(names, values, strict=True)
                )
                yield pytest.param(
                    spec.id, field.name, index, payload, id=f"{spec.id}:{label}:{shown}:{given}"
                )


CASES = list(cases())


def as_posted(spec: ModelSpec, payload: dict) -> dict[str, str]:
    """What a browser without the script posts for these values."""
    data = {}
    for name, value in payload.items():
        field = spec.field(name)
        if field.type == "switch":
            if value:
                data[name] = "on"
        elif field.type == "image_urls":
            for position, url in enumerate(value):
                data[f"{name}_{position}"] = url
        else:
            data[name] = str(value)
    return data


def script_disables(spec: ModelSpec, posted: dict[str, str]) -> set[str]:
    """The inputs playground.js disables for this form state: its meets() and
    settling loop, over the data-applies-when the form renders."""
    form = catalog.form_class(spec.id)()
    inputs = {}  # posted name -> (field spec, tests)
    for field in spec.fields:
        bound = form[field.name]
        for widget in bound.subwidgets:
            tests = widget.data["attrs"].get("data-applies-when")
            if tests:
                inputs[widget.data["name"]] = (field, json.loads(tests))
    disabled: set[str] = set()

    def meets(test: dict) -> bool:
        name = test["field"]
        value = ""
        if name not in disabled:
            if spec.field(name).type == "switch":
                value = "true" if name in posted else "false"
            else:
                value = posted.get(name, "").strip()
        if value == "":
            return test["blank"]
        if "present" in test:
            return test["present"]
        return value in test["values"]

    for _ in range(5):
        changed = False
        for name, (_, tests) in inputs.items():
            applies = all(meets(test) for test in tests)
            if (name in disabled) == applies:
                (disabled.discard if applies else disabled.add)(name)
                changed = True
        if not changed:
            break
    return disabled


def outcome(model: str, payload: dict) -> dict[str, list[str]] | None:
    try:
        catalog.validate(model, payload)
    except catalog.ValidationFailed as failure:
        return failure.errors
    return None


def refused_for_not_applying(errors: dict[str, list[str]] | None, name: str) -> bool:
    messages = (errors or {}).get(name, [])
    return any("applies only when" in message.lower() for message in messages)


def test_some_specs_say_when_fields_apply():
    # kling-2-1's images and end frame, Kling V2.6's sound and voice.
    assert {(spec.id, field.name, index) for spec, field, index in TARGETS} >= {
        ("kling-2-1", "image_urls", None),
        ("kling-2-1", "image_urls", 1),
        ("kling-v2-6", "sound", None),
        ("kling-v2-6", "voice", None),
    }
    # The cases reach both sides of every rule.
    refused = {
        (m, n, i)
        for m, n, i, p in (c.values for c in CASES)
        if refused_for_not_applying(outcome(m, p), n)
    }
    assert refused == {(spec.id, field.name, index) for spec, field, index in TARGETS}


@pytest.mark.parametrize(("model", "name", "index", "payload"), CASES)
def test_the_validator_the_form_and_the_schema_agree_on_when_a_field_applies(
    model, name, index, payload
):
    spec = catalog.get_spec(model)
    field = spec.field(name)
    errors = outcome(model, payload)

    # The schema and the form without the script judge as the validator does.
    schema_valid = Draft202012Validator(catalog.input_schema(spec)).is_valid(payload)
    posted = as_posted(spec, payload)
    form = catalog.form_class(model)(data=posted)
    assert form.is_valid() == (errors is None) == schema_valid, errors
    if errors is not None:
        assert form.errors == errors

    # The script disables the field (or item) exactly where the validator
    # refuses its value for not applying...
    disabled = script_disables(spec, posted)
    # The field as a whole is its first input; an item is its own.
    target = f"{name}_{index or 0}" if field.items else name
    given = name in payload and (index is None or len(payload[name]) > index)
    # (a condition that reads a refused value is not judged: noise)
    judged = not (field.depends_on & (errors or {}).keys())
    if given and judged:
        assert (target in disabled) == refused_for_not_applying(errors, name)

    # ...so the form it leaves is never refused for a field that does not apply.
    scripted = {key: value for key, value in posted.items() if key not in disabled}
    scripted_form = catalog.form_class(model)(data=scripted)
    scripted_form.is_valid()
    assert not any(refused_for_not_applying(scripted_form.errors, key) for key in spec.field_names)
