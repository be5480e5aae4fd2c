"""The playground form of a model, built from its spec.

The form's fields do no checking of their own: they carry the spec's limits
as HTML attributes (maxlength, min/max/step, required) so the browser checks
what the server checks, and clean() hands everything to validate(), whose
messages land on the fields they name. One validator, never two.

A field's applies_when is carried the same way, as `data-applies-when`: the
page's script disables and hides the field while its conditions do not hold
(a disabled field is not posted, so it takes its default), and without the
script the validator refuses a value given where the field does not apply.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from functools import cache
from typing import Any

from django import forms

from playground.catalog.errors import ValidationFailed
from playground.catalog.loader import get_spec, validate
from playground.catalog.rules import matches
from playground.catalog.spec import MAX_URL_LENGTH, Choice, Condition, FieldSpec, ModelSpec
from playground.catalog.values import number_text

# Browsers accept any scheme in type=url; the server takes only these.
URL_PATTERN = "[Hh][Tt][Tt][Pp][Ss]?://.+"
# A stepped number field with at most this many values is offered as a list.
FEW_VALUES = 6


class RawField(forms.Field):
    """Passes the submitted value through untouched for validate() to judge."""

    def __init__(self, **kwargs: Any):
        super().__init__(required=False, **kwargs)


def image_list(value: Any, *, positional: bool = True) -> Any:
    """An image_urls field's posted value as a list: one URL per row input
    (or per line of text). Blank rows after the last URL are left out; in a
    positional list (start frame, end frame) a blank row before a URL is kept,
    so an end frame given without a start frame is still the second image,
    while in a plain list every blank row is just an empty row."""
    if isinstance(value, str):
        value = value.splitlines()
    if isinstance(value, list | tuple):
        urls = [item.strip() if isinstance(item, str) else "" for item in value]
        if not positional:
            return [url for url in urls if url]
        while urls and not urls[-1]:
            urls.pop()
        return urls
    return value


class ImageRows(forms.MultiWidget):
    """An image_urls field as one URL input per possible image, posted as
    name_0, name_1… in order.

    The page shows the rows in use and keeps the others as spares that its
    "Add" button brings in; moving and removing images moves the URLs between
    the rows, so a row's name, label and conditions stay those of its position.
    """

    use_fieldset = True

    def __init__(self, rows_attrs: list[dict[str, Any]]):
        super().__init__([forms.URLInput(attrs) for attrs in rows_attrs])

    def decompress(self, value: Any) -> list[Any]:
        urls = image_list(value) if value else []
        return [*urls, *[None] * (len(self.widgets) - len(urls))][: len(self.widgets)]

    def subwidgets(self, name: str, value: Any, attrs: dict | None = None) -> Iterator[dict]:
        # Each row's input on its own, for the page to lay out one by one.
        yield from self.get_context(name, value, attrs)["widget"]["subwidgets"]


class CatalogForm(forms.Form):
    spec: ModelSpec
    normalized: dict[str, Any] | None = None

    def clean(self) -> dict[str, Any]:
        submitted = {}
        for field in self.spec.fields:
            value = self.cleaned_data.get(field.name)
            if field.type == "image_urls":
                value = image_list(value, positional=bool(field.items))
            submitted[field.name] = value
        try:
            self.normalized = validate(self.spec.id, submitted)
        except ValidationFailed as failure:
            for name, messages in failure.errors.items():
                self.add_error(name if name in self.fields else None, messages)
            return self.cleaned_data
        return self.normalized


def _initial(field: FieldSpec) -> Any:
    if field.default is None:
        return None
    if field.type == "image_urls":
        return list(field.default)
    return field.default


def applies_attr(spec: ModelSpec, conditions: tuple[Condition, ...]) -> str:
    """Conditions as the page's script tests them (data-applies-when).

    Each names a field, the values that meet it as the form posts them
    ("true"/"false" for a switch), or `present`, and whether a blank or
    disabled field meets it: the field then takes its default, if any.
    """
    tests = []
    for condition in conditions:
        default = spec.field(condition.field).default
        test: dict[str, Any] = {"field": condition.field}
        if condition.present is not None:
            test["present"] = condition.present
        else:
            test["values"] = [_posted(value) for value in condition.values or ()]
        given = {} if default is None else {condition.field: default}
        test["blank"] = matches(condition, given)
        tests.append(test)
    return json.dumps(tests, separators=(",", ":"))


def _posted(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "\n".join(value)
    return str(value)


def choice_label(field: FieldSpec, choice: Choice) -> str:
    """A choice as people read it: its own label, or its value with the unit ("5 s")."""
    if choice.label != str(choice.value):
        return choice.label
    return field.display(choice.value)


def few_values(field: FieldSpec) -> list[Decimal]:
    """Every value a stepped number field takes, when there are few enough to
    offer as a list (5 or 10 seconds); [] for a range to type in."""
    step = field.step if field.step is not None else (Decimal(1) if field.integer else None)
    if step is None or field.min is None or field.max is None:
        return []
    count = (field.max - field.min) / step + 1
    if count > FEW_VALUES:
        return []
    return [field.min + index * step for index in range(int(count))]


def image_row_label(field: FieldSpec, index: int) -> str:
    """The label of an image_urls row: its item's ("End frame"), or "Image 3"."""
    if index < len(field.items):
        return field.items[index].label
    return f"Image {index + 1}"


def _form_field(spec: ModelSpec, field: FieldSpec) -> forms.Field:
    attrs: dict[str, Any] = {}
    if field.required:
        attrs["required"] = True
    if field.applies_when:
        attrs["data-applies-when"] = applies_attr(spec, field.applies_when)
    common = {"label": field.label, "help_text": field.help, "initial": _initial(field)}
    if field.type == "switch":
        # An unchecked box is absent from the POST: false, as the spec's default.
        return forms.BooleanField(required=False, widget=forms.CheckboxInput(attrs), **common)
    if field.type in ("textarea", "text"):
        attrs["maxlength"] = field.max_length
        widget = forms.Textarea(attrs | {"rows": 4}) if field.type == "textarea" else None
        widget = widget or forms.TextInput(attrs)
    elif field.type == "select":
        choices = [(str(choice.value), choice_label(field, choice)) for choice in field.choices]
        widget = _select(field, attrs, choices)
    elif field.type == "number" and (values := few_values(field)):
        # 5 or 10 seconds reads as the same list as a select of "5" and "10"
        # does on other models; the validator still takes it as a number.
        choices = [(number_text(v), field.display(number_text(v))) for v in values]
        widget = _select(field, attrs, choices)
    elif field.type == "number":
        attrs["min"] = number_text(field.min)
        attrs["max"] = number_text(field.max)
        if field.step is not None:
            attrs["step"] = number_text(field.step)
        else:
            attrs["step"] = "1" if field.integer else "any"
        widget = forms.NumberInput(attrs)
    elif field.type == "image_urls":
        rows_attrs = []
        for index in range(field.max_items or len(field.items) or 1):
            row_attrs = attrs | {
                "pattern": URL_PATTERN,
                "maxlength": MAX_URL_LENGTH,
                "placeholder": "https://…",
            }
            # Only the first image is required; each row carries the field's
            # conditions and its item's.
            if index > 0:
                row_attrs.pop("required", None)
            conditions = field.applies_when
            if index < len(field.items):
                conditions += field.items[index].applies_when
            if conditions:
                row_attrs["data-applies-when"] = applies_attr(spec, conditions)
            rows_attrs.append(row_attrs)
        widget = ImageRows(rows_attrs)
    else:  # image_url, video_url
        attrs |= {"pattern": URL_PATTERN, "maxlength": MAX_URL_LENGTH, "placeholder": "https://…"}
        widget = forms.URLInput(attrs)
    return RawField(widget=widget, **common)


def _select(field: FieldSpec, attrs: dict[str, Any], choices: list) -> forms.Select:
    if field.default is None:
        # A required select needs an empty first option for the browser's
        # required check; an optional one needs it to stay unset.
        choices.insert(0, ("", "Choose…" if field.required else "—"))
    return forms.Select(attrs, choices=choices)


@cache
def form_class_for(spec: ModelSpec) -> type[CatalogForm]:
    attrs: dict[str, Any] = {"spec": spec, "__module__": __name__}
    attrs.update({field.name: _form_field(spec, field) for field in spec.fields})
    name = "".join(part.capitalize() for part in spec.id.replace("/", "-").split("-")) + "Form"
    return type(name, (CatalogForm,), attrs)


def form_class(model: str) -> type[CatalogForm]:
    """The playground form for a model id or alias."""
    return form_class_for(get_spec(model))
