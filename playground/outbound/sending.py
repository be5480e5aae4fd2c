"""Requests whose answer we read: task callbacks, webhooks, upstream provider APIs."""

from __future__ import annotations

import json as jsonlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from .client import client_for
from .exchange import Deadline, mapped_errors, open_response
from .guard import Policy, display, parse_url

logger = logging.getLogger(__name__)

DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024


@dataclass(frozen=True)
class OutboundResponse:
    """The answer to `send`: whatever the status, with the body cut at the cap."""

    status: int
    headers: httpx.Headers
    body: bytes
    elapsed_ms: int
    url: str  # the URL that answered (after redirects, if they were followed), without query
    truncated: bool = False  # the body went on past max_response_bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        content_type = self.headers.get("Content-Type", "")
        encoding = "utf-8"
        for part in content_type.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                encoding = value.strip('"')
        try:
            return self.body.decode(encoding, errors="replace")
        except LookupError:  # an unknown charset name
            return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; raises ValueError when it is not (or was truncated)."""
        return jsonlib.loads(self.body)


def send(
    method: str,
    url: str | httpx.URL,
    *,
    json: Any = None,
    content: bytes | str | None = None,
    data: Mapping[str, str] | None = None,
    files: Mapping[str, Any] | None = None,
    params: Mapping[str, str | int | float] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    total_timeout: float | None = None,
    allow_private: bool = False,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    follow_redirects: bool = False,
) -> OutboundResponse:
    """Make one request and return its answer, never raising for an HTTP error status.

    - `json` is sent compactly as httpx encodes it; a body that has been
      signed must go as `content` (the exact signed bytes). `data` with
      `files` is a multipart form, as httpx builds it.
    - The body is read up to `max_response_bytes`; the rest is dropped and
      `truncated` set.
    - Redirects are not followed unless `follow_redirects=True`: for a
      callback a 3xx is just a non-2xx answer. When followed (at most 5 hops),
      every hop passes the SSRF guard and Authorization is dropped when a hop
      leaves the original origin.
    - `timeout` bounds each network phase; `total_timeout` the whole exchange.
    - `allow_private=True` is for URLs an admin configured (upstream
      providers); user-supplied URLs must never get it.

    Raises UnsafeURL for a refused URL and FetchError for connection errors
    and timeouts. Header values are never logged.
    """
    if sum(body is not None for body in (json, content, data or files)) > 1:
        raise TypeError("send() takes one of json, content, or data and files")
    parsed = parse_url(url)
    client = client_for(Policy.current(allow_private))
    deadline = Deadline(total_timeout)
    # No compressed answers unless the caller asks: decoding one could expand
    # far past max_response_bytes in a single chunk.
    merged = httpx.Headers({"Accept-Encoding": "identity"})
    merged.update(headers or {})
    request = client.build_request(
        method.upper(),
        parsed,
        json=json,
        content=content,
        data=data,
        files=files,
        params=params,
        headers=merged,
    )
    started = time.monotonic()
    response = open_response(
        client, request, timeout=timeout, deadline=deadline, follow_redirects=follow_redirects
    )
    body = bytearray()
    truncated = False
    try:
        with mapped_errors(response.url, timeout):
            for chunk in response.iter_bytes():
                room = max_response_bytes - len(body)
                if len(chunk) > room:
                    body += chunk[:room]
                    truncated = True
                    break
                body += chunk
                deadline.check(response.url)
    finally:
        response.close()
    elapsed_ms = round((time.monotonic() - started) * 1000)
    logger.debug(
        "%s %s answered %d in %d ms",
        request.method,
        display(parsed),
        response.status_code,
        elapsed_ms,
    )
    return OutboundResponse(
        status=response.status_code,
        headers=response.headers,
        body=bytes(body),
        elapsed_ms=elapsed_ms,
        url=display(response.url),
        truncated=truncated,
    )
