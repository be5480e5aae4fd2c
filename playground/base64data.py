"""Files sent inline as base64: bare, or as a `data:<mime type>;base64,` URL.

One reading for every endpoint that takes them (the base64 upload, OpenAI's
`input_reference`): line-wrapped text, the URL-safe alphabet and missing
padding are accepted, as lenient decoders do. Decoded in slices, so a large
payload is never held twice.
"""

import base64
import binascii
from collections.abc import Iterator

# Decoded in slices of this many base64 characters (a multiple of 4).
SLICE = 4 * 16 * 1024


class Base64Error(ValueError):
    """The text is not base64; the message names the value and says why."""


def is_data_url(text: str) -> bool:
    return text.strip()[:5].lower() == "data:"


def base64_text(value: str, name: str) -> str:
    """The base64 characters of `value` (bare or a data: URL), padded; `name` is
    the value's name in error messages."""
    text = value.strip()
    if is_data_url(text):
        header, comma, text = text.partition(",")
        if not comma or not header.lower().endswith(";base64"):
            raise Base64Error(
                f"{name} is a data: URI but not a base64 one; "
                "expected data:<mime type>;base64,<data>."
            )
    if any(ch.isspace() for ch in text):
        text = "".join(text.split())  # line-wrapped base64 (MIME, PEM style)
    text = text.translate(str.maketrans("-_", "+/")).rstrip("=")
    if "=" in text or len(text) % 4 == 1:
        raise Base64Error(f"{name} is not valid base64: padding or length is wrong.")
    return text + "=" * (-len(text) % 4)


def decoded_size(text: str) -> int:
    """The number of bytes padded base64 `text` decodes to."""
    return len(text) // 4 * 3 - text.count("=")


def decoded_slices(text: str, name: str) -> Iterator[bytes]:
    """The bytes of padded base64 `text`, slice by slice."""
    for start in range(0, len(text), SLICE):
        try:
            yield base64.b64decode(text[start : start + SLICE], validate=True)
        except (binascii.Error, ValueError) as exc:
            # ValueError: characters outside ASCII, which b64decode refuses
            # before it looks at the alphabet.
            raise Base64Error(
                f"{name} is not valid base64 (near character {start}): {exc}."
            ) from None
