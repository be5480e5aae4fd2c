"""How values look on the wire, shared by the contracts: timestamps, credits,
JSON strings, absolute URLs, and the parts of a request every contract reads."""

import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from playground.contracts.errors import field_errors
from playground.models import Generation
from playground.outbound import callback_url_error
from playground.storage import absolute_url


@dataclass(frozen=True)
class Submission:
    """A create request as its contract read it: what the one submit service takes."""

    model: str
    input: Any
    # The body as the task's `param` records it.
    request: dict = field(default_factory=dict)
    callback_url: str = ""


def ms(moment) -> int | None:
    """A datetime as milliseconds since the epoch (the contracts' timestamps)."""
    return int(moment.timestamp() * 1000) if moment else None


def credits_number(amount: Decimal) -> float:
    # Credits are Decimal everywhere; JSON clients expect a number. A value
    # with two decimal places prints back exactly (repr is shortest
    # round-trip), so converting here, at the edge, loses nothing.
    return float(amount)


def json_string(value) -> str | None:
    """The seeds carry `param` and `resultJson` as JSON strings, parsed once by clients."""
    return None if value is None else json.dumps(value, ensure_ascii=False)


# -- absolute URLs ------------------------------------------------------------


def request_base_url(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def base_url(generation: Generation | None, request_base: str | None = None) -> str:
    """Where a generation's links point: PUBLIC_BASE_URL, else the requesting
    host, else the host it was created on (callbacks have no request)."""
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL
    if request_base is not None:
        return request_base
    return (generation.base_url if generation else "") or "http://localhost:8000"


def file_url(generation: Generation, file, request_base: str | None = None) -> str | None:
    if not file:
        return None
    return absolute_url(file.url, base_url(generation, request_base))


def result_urls(generation: Generation, request_base: str | None = None) -> list[str]:
    url = file_url(generation, generation.video, request_base)
    return [url] if url and generation.state == Generation.SUCCESS else []


def result_object(generation: Generation, request_base: str | None = None) -> dict | None:
    """The seeds' resultJson object: resultUrls always, the rest when known."""
    if generation.state == Generation.FAIL:
        return {"resultUrls": []}
    if generation.state != Generation.SUCCESS:
        return None
    return {
        "resultUrls": result_urls(generation, request_base),
        "videoDuration": generation.duration,
        "thumbnailUrl": file_url(generation, generation.poster, request_base),
        "videoSize": f"{generation.width}x{generation.height}",
        "videoModel": generation.model_id,
        "hasAudio": generation.has_audio,
    }


# -- reading requests ---------------------------------------------------------


def plausible_id(value: str) -> bool:
    """Whether `value` could be a task or file id at all; anything else is simply not found.

    Checked before the database sees it: PostgreSQL refuses a NUL character
    in a query parameter with an error, not with "no rows".
    """
    return 0 < len(value) <= 64 and value.isascii() and value.isprintable()


def optional_string(body: dict, name: str) -> str:
    value = body.get(name)
    if value in (None, ""):
        return ""
    if not isinstance(value, str):
        raise field_errors({name: ["Must be a string."]})
    return value.strip()


def callback_from(body: dict, name: str) -> str:
    """The callback URL in the body's `name`, checked as every callback URL is; "" if none."""
    url = optional_string(body, name)
    if url:
        problem = callback_url_error(url)
        if problem:
            raise field_errors({name: [problem]})
    return url


# Deeper than any request of ours needs, and shallow enough for every
# recursive encoder on the way to the database.
MAX_JSON_DEPTH = 64


def parse_json(text: bytes | str):
    """JSON the database can store as sent, or ValueError saying why not.

    Requests are stored as sent, so besides what json.loads refuses this
    refuses what PostgreSQL's jsonb (and SQLite's JSON check) cannot hold:
    NaN and infinities, \\u0000, unpaired surrogates; and nesting deeper than
    MAX_JSON_DEPTH.
    """
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError(f"nested more than {MAX_JSON_DEPTH} levels deep") from None
    _check_storable(value)
    return value


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not allowed: numbers must be finite")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e999 reads as infinity
        raise ValueError(f"{text} is out of range: numbers must be finite")
    return number


def _check_storable(value) -> None:
    # Iterative: a value json.loads accepted may still be deeper than Python's
    # recursion limit allows from inside a request.
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ValueError("it contains a null character (\\u0000)")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("it contains an unpaired surrogate (\\ud800-\\udfff)") from None
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise ValueError(f"nested more than {MAX_JSON_DEPTH} levels deep")
            if isinstance(item, dict):
                pending.extend((key, depth) for key in item)
                pending.extend((child, depth + 1) for child in item.values())
            else:
                pending.extend((child, depth + 1) for child in item)
