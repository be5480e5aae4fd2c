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
from functools import cache
from typing import Any

from django import forms

from playground.catalog.errors import ValidationFailed
from playground.catalog.loader import get_spec, validate
from playground.catalog.rules import matches
from playground.catalog.spec import MAX_URL_LENGTH, Condition, FieldSpec, ModelSpec
from playground.catalog.values import number_text

# Browsers accept any scheme in type=url; the server takes only these.
URL_PATTERN = "[Hh][Tt][Tt][Pp][Ss]?://.+"


class RawField(forms.Field):
    """Passes the submitted value through untouched for validate() to judge."""

    def __init__(self, **kwargs: Any):
        super().__init__(required=False, **kwargs)


def image_list(value: Any) -> Any:
    """An image_urls field's posted value as a list: one URL per line of the
    textarea, or one per item input (blanks after the last URL left out, so an
    end frame given without a start frame is still the second image)."""
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    if isinstance(value, list):
        urls = [item.strip() if isinstance(item, str) else "" for item in value]
        while urls and not urls[-1]:
            urls.pop()
        return urls
    return value


class ImageItems(forms.MultiWidget):
    """One URL input per item of an image_urls field (start frame, end frame),
    posted as name_0, name_1…"""

    use_fieldset = True

    def __init__(self, items_attrs: list[dict[str, Any]]):
        super().__init__([forms.URLInput(attrs) for attrs in items_attrs])

    def decompress(self, value: Any) -> list[Any]:
        urls = image_list(value) if value else []
        return [*urls, *[None] * (len(self.widgets) - len(urls))][: len(self.widgets)]

    def subwidgets(self, name: str, value: Any, attrs: dict | None = None) -> Iterator[dict]:
        # Each item's input on its own, for the page to label one by one.
        yield from self.get_context(name, value, attrs)["widget"]["subwidgets"]


class CatalogForm(forms.Form):
    spec: ModelSpec
    normalized: dict[str, Any] | None = None

    def clean(self) -> dict[str, Any]:
        submitted = {}
        for field in self.spec.fields:
            value = self.cleaned_data.get(field.name)
            if field.type == "image_urls":
                value = image_list(value)
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
        return "\n".join(field.default)
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
        choices = [(str(choice.value), choice.label) for choice in field.choices]
        if field.default is None:
            # A required select needs an empty first option for the browser's
            # required check; an optional one needs it to stay unset.
            choices.insert(0, ("", "Choose…" if field.required else "—"))
        widget = forms.Select(attrs, choices=choices)
    elif field.type == "number":
        attrs["min"] = number_text(field.min)
        attrs["max"] = number_text(field.max)
        if field.step is not None:
            attrs["step"] = number_text(field.step)
        else:
            attrs["step"] = "1" if field.integer else "any"
        widget = forms.NumberInput(attrs)
    elif field.type == "image_urls" and field.items:
        items_attrs = []
        for index, item in enumerate(field.items):
            item_attrs = attrs | {
                "pattern": URL_PATTERN,
                "maxlength": MAX_URL_LENGTH,
                "placeholder": "https://…",
                "data-item-label": item.label,
            }
            # Only the first image is required; each input carries the
            # field's conditions and its item's.
            if index > 0:
                item_attrs.pop("required", None)
            if field.applies_when or item.applies_when:
                conditions = field.applies_when + item.applies_when
                item_attrs["data-applies-when"] = applies_attr(spec, conditions)
            items_attrs.append(item_attrs)
        widget = ImageItems(items_attrs)
    elif field.type == "image_urls":
        attrs |= {"rows": max(2, field.max_items or 2), "placeholder": "https://…"}
        attrs |= {"data-min-items": field.min_items or 0, "data-max-items": field.max_items}
        widget = forms.Textarea(attrs)
    else:  # image_url, video_url
        attrs |= {"pattern": URL_PATTERN, "maxlength": MAX_URL_LENGTH, "placeholder": "https://…"}
        widget = forms.URLInput(attrs)
    return RawField(widget=widget, **common)


@cache
def form_class_for(spec: ModelSpec) -> type[CatalogForm]:
    attrs: dict[str, Any] = {"spec": spec, "__module__": __name__}
    attrs.update({field.name: _form_field(spec, field) for field in spec.fields})
    name = "".join(part.capitalize() for part in spec.id.replace("/", "-").split("-")) + "Form"
    return type(name, (CatalogForm,), attrs)


def form_class(model: str) -> type[CatalogForm]:
    """The playground form for a model id or alias."""
    return form_class_for(get_spec(model))
