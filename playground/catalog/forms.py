"""The playground form of a model, built from its spec.

The form's fields do no checking of their own: they carry the spec's limits
as HTML attributes (maxlength, min/max/step, required) so the browser checks
what the server checks, and clean() hands everything to validate(), whose
messages land on the fields they name. One validator, never two.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django import forms

from playground.catalog.errors import ValidationFailed
from playground.catalog.loader import get_spec, validate
from playground.catalog.spec import MAX_URL_LENGTH, FieldSpec, ModelSpec
from playground.catalog.values import number_text

# Browsers accept any scheme in type=url; the server takes only these.
URL_PATTERN = "[Hh][Tt][Tt][Pp][Ss]?://.+"


class RawField(forms.Field):
    """Passes the submitted value through untouched for validate() to judge."""

    def __init__(self, **kwargs: Any):
        super().__init__(required=False, **kwargs)


class CatalogForm(forms.Form):
    spec: ModelSpec
    normalized: dict[str, Any] | None = None

    def clean(self) -> dict[str, Any]:
        submitted = {}
        for field in self.spec.fields:
            value = self.cleaned_data.get(field.name)
            if field.type == "image_urls" and isinstance(value, str):
                # One URL per line; blank lines are not images.
                value = [line.strip() for line in value.splitlines() if line.strip()]
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


def _form_field(field: FieldSpec) -> forms.Field:
    attrs: dict[str, Any] = {}
    if field.required:
        attrs["required"] = True
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
    attrs.update({field.name: _form_field(field) for field in spec.fields})
    name = "".join(part.capitalize() for part in spec.id.replace("/", "-").split("-")) + "Form"
    return type(name, (CatalogForm,), attrs)


def form_class(model: str) -> type[CatalogForm]:
    """The playground form for a model id or alias."""
    return form_class_for(get_spec(model))
