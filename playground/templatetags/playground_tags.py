"""Template filters for how generations and models read on the pages."""

from django import template

from playground.pages.common import KIND_LABELS, model_title
from playground.pages.common import parameters as generation_parameters

register = template.Library()


@register.filter
def title_of_model(model_id: str) -> str:
    return model_title(model_id)


@register.filter
def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


@register.filter
def parameters(generation) -> list:
    return generation_parameters(generation)


@register.filter
def seconds(milliseconds: int | None) -> str:
    """1817 → "1.8 s"."""
    if milliseconds is None:
        return ""
    return f"{milliseconds / 1000:.1f} s"
