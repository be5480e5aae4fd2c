"""System check: `manage.py check` (and every management command) fails on a malformed spec."""

from __future__ import annotations

from typing import Any

from django.core import checks

from playground.catalog.errors import SpecErrors
from playground.catalog.loader import load_catalog, specs_dir


def check_catalog(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    # Loaded afresh, not from the cache: the check exists to read the files as
    # they are on disk now.
    directory = specs_dir()
    try:
        load_catalog(directory)
    except SpecErrors as failure:
        return [
            checks.Error(
                f"{error.field}: {error.message}" if error.field else error.message,
                hint=f"Fix the model spec {directory / error.file}.",
                obj=error.file,
                id="catalog.E001",
            )
            for error in failure.errors
        ]
    return []
