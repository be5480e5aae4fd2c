"""Checking and normalizing one field's value: the per-type half of the validator.

Clients of the different contracts disagree on types (seed 001 sends
`"duration": 5`, seed 002 `"duration": "5"`), so values are coerced to the
field's canonical form rather than compared by JSON type. Every message is a
sentence for the person who sent the value.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from playground.catalog.spec import MAX_URL_LENGTH, FieldSpec

# Plain decimal notation only: Decimal() alone would also take "NaN",
# "Infinity" and "1_000".
_NUMBER_RE = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*\Z")


class Invalid(Exception):
    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


def is_blank(value: Any) -> bool:
    """None, "", whitespace and [] all mean "not given", as an empty form field does."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, list | tuple):
        return len(value) == 0
    return False


def shown(value: Any, limit: int = 40) -> str:
    """The offending value quoted in a message, cut short."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value if len(value) <= limit else value[: limit - 1] + "…"
        return repr(text)
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def number_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def coerce(field: FieldSpec, value: Any) -> Any:
    """The normalized value of a non-blank `value` for `field`, or Invalid."""
    return _COERCERS[field.type](field, value)


def _text(field: FieldSpec, value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid(f"Must be text (got {shown(value)}).")
    if field.type == "textarea":
        # Browsers submit line breaks as CRLF; count and store them once.
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in value:
        # PostgreSQL text columns cannot hold NUL.
        raise Invalid("Must not contain null characters.")
    if field.max_length is not None and len(value) > field.max_length:
        raise Invalid(f"Must be at most {field.max_length} characters (got {len(value)}).")
    return value


def _select(field: FieldSpec, value: Any) -> str | int:
    # 5 and "5" name the same choice; 5.0 and true do not.
    if isinstance(value, str | int) and not isinstance(value, bool):
        text = str(value).strip()
        for choice in field.choice_values:
            if str(choice) == text:
                return choice
    options = ", ".join(str(choice) for choice in field.choice_values)
    raise Invalid(f"Must be one of {options} (got {shown(value)}).")


def parse_number(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise Invalid(f"Must be a number (got {shown(value)}).")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Invalid("Must be a finite number.")
        # repr() is the shortest text that round-trips: 0.1 stays 0.1.
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise Invalid("Must be a finite number.")
        return value
    if isinstance(value, str) and _NUMBER_RE.match(value):
        return Decimal(value.strip())
    raise Invalid(f"Must be a number (got {shown(value)}).")


def _number(field: FieldSpec, value: Any) -> int | float:
    number = parse_number(value)
    # Range first: the loader guarantees min and max, so the remainder below
    # never meets an exponent too large for the decimal context.
    if field.min is not None and number < field.min:
        raise Invalid(f"Must be at least {number_text(field.min)} (got {number_text(number)}).")
    if field.max is not None and number > field.max:
        raise Invalid(f"Must be at most {number_text(field.max)} (got {number_text(number)}).")
    if field.integer and number != number.to_integral_value():
        raise Invalid(f"Must be a whole number (got {number_text(number)}).")
    if field.step is not None:
        base = field.min if field.min is not None else Decimal(0)
        try:
            off_step = (number - base) % field.step != 0
        except InvalidOperation:
            off_step = True
        if off_step:
            raise Invalid(
                f"Must be in steps of {number_text(field.step)} from {number_text(base)}"
                f" (got {number_text(number)})."
            )
    # Inputs travel as JSON to upstreams: int or float, not Decimal. Money
    # never goes through here.
    return int(number) if field.integer else float(number)


def _switch(field: FieldSpec, value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"Must be true or false (got {shown(value)}).")
    return value


def check_url(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid(f"Must be a URL (got {shown(value)}).")
    # Browsers trim type=url inputs; do the same for API clients.
    url = value.strip()
    if len(url) > MAX_URL_LENGTH:
        raise Invalid(f"Must be at most {MAX_URL_LENGTH} characters (got {len(url)}).")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise Invalid("Must be a URL without spaces or line breaks.")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise Invalid(f"Must be a valid URL (got {shown(url)}).") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise Invalid(f"Must be an http:// or https:// URL (got {shown(url)}).")
    if not host:
        raise Invalid(f"Must be a URL with a host name (got {shown(url)}).")
    # "HTTPS://" is valid but surprises every consumer that tests for "https://".
    return parts.scheme.lower() + url[len(parts.scheme) :]


def _url(field: FieldSpec, value: Any) -> str:
    return check_url(value)


def _url_list(field: FieldSpec, value: Any) -> list[str]:
    if not isinstance(value, list | tuple):
        raise Invalid("Must be a list of image URLs.")
    count = len(value)
    if field.min_items is not None and count < field.min_items:
        raise Invalid(f"Must have at least {_images(field.min_items)} (got {count}).")
    if field.max_items is not None and count > field.max_items:
        raise Invalid(f"Must have at most {_images(field.max_items)} (got {count}).")
    urls = []
    for number, item in enumerate(value, start=1):
        try:
            urls.append(check_url(item))
        except Invalid as error:
            raise Invalid(f"Image {number}: {error.message}") from None
    return urls


def _images(count: int) -> str:
    return f"{count} image" if count == 1 else f"{count} images"


_COERCERS = {
    "textarea": _text,
    "text": _text,
    "select": _select,
    "number": _number,
    "switch": _switch,
    "image_url": _url,
    "image_urls": _url_list,
    "video_url": _url,
}
