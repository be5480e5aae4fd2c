"""The model catalog: one JSON spec per model, and everything derived from it.

The API contracts, the engine and the playground use only these names:

    get_spec(name) -> ModelSpec          all_specs() -> list[ModelSpec]
    validate(name, input) -> dict        quote(name, normalized) -> Quote
    form_class(name) -> type[Form]       input_schema(spec) -> dict (JSON Schema)

`name` is a model id or any of its aliases.
"""

from playground.catalog.errors import SpecError, SpecErrors, UnknownModel, ValidationFailed
from playground.catalog.forms import form_class, form_class_for
from playground.catalog.loader import all_specs, forget_catalogs, get_spec, quote, validate
from playground.catalog.openapi import input_schema
from playground.catalog.pricing import Quote
from playground.catalog.spec import FIELD_TYPES, FieldSpec, ModelSpec

__all__ = [
    "FIELD_TYPES",
    "FieldSpec",
    "ModelSpec",
    "Quote",
    "SpecError",
    "SpecErrors",
    "UnknownModel",
    "ValidationFailed",
    "all_specs",
    "clear_cache",
    "form_class",
    "get_spec",
    "input_schema",
    "quote",
    "validate",
]


def clear_cache() -> None:
    """Forget loaded catalogs and the forms built from them (tests that rewrite spec files)."""
    forget_catalogs()
    form_class_for.cache_clear()
