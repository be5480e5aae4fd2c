"""Reading spec JSON so that every failure names the file and the field path."""

from __future__ import annotations

import difflib
import re
from decimal import Decimal
from typing import Any, NoReturn

from playground.catalog.errors import SpecError
from playground.catalog.spec import FieldSpec
from playground.catalog.values import Invalid, coerce


class Reader:
    """A JSON object under a path in one file; every failure names file and path."""

    def __init__(self, file: str, path: str, data: Any, allowed: set[str]):
        self.file = file
        self.path = path
        if not isinstance(data, dict):
            raise SpecError(file, path or "(top level)", "must be a JSON object")
        self.data = data
        for key in data:
            if key not in allowed:
                hint = difflib.get_close_matches(key, allowed, n=1)
                suffix = f" (did you mean '{hint[0]}'?)" if hint else ""
                self.fail(key, f"unknown key{suffix}; allowed: {', '.join(sorted(allowed))}")

    def at(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, message: str) -> NoReturn:
        raise SpecError(self.file, self.at(key), message)

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def string(self, key: str, default: str | None = None, *, pattern: re.Pattern | None = None):
        if key not in self.data:
            if default is None:
                self.fail(key, "is required")
            return default
        value = self.data[key]
        if not isinstance(value, str) or not value.strip():
            self.fail(key, "must be a non-empty string")
        if pattern is not None and not pattern.match(value):
            self.fail(key, f"{value!r} does not match {pattern.pattern}")
        return value

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            self.fail(key, "must be true or false")
        return value

    def integer(self, key: str, *, minimum: int, required: bool = False) -> int | None:
        if key not in self.data:
            if required:
                self.fail(key, "is required")
            return None
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(key, f"must be a whole number of at least {minimum}")
        return value

    def number(self, key: str, *, required: bool = False) -> Decimal | None:
        if key not in self.data:
            if required:
                self.fail(key, "is required")
            return None
        value = self.data[key]
        # JSON is parsed with parse_float=Decimal, so 0.1 arrives exactly.
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            self.fail(key, "must be a number")
        return Decimal(value)

    def strings(self, key: str, *, pattern: re.Pattern | None = None) -> list[str]:
        value = self.data.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.fail(key, "must be a list of strings")
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise SpecError(self.file, f"{self.at(key)}[{index}]", "must be a non-empty string")
            if pattern is not None and not pattern.match(item):
                raise SpecError(
                    self.file,
                    f"{self.at(key)}[{index}]",
                    f"{item!r} does not match {pattern.pattern}",
                )
        return value

    def items(self, key: str, *, required: bool = False) -> list[Any]:
        if key not in self.data:
            if required:
                self.fail(key, "is required")
            return []
        value = self.data[key]
        if not isinstance(value, list):
            self.fail(key, "must be a list")
        return value


def field_value(file: str, path: str, field: FieldSpec, raw: Any) -> Any:
    try:
        return coerce(field, raw)
    except Invalid as error:
        raise SpecError(file, path, error.message) from None
