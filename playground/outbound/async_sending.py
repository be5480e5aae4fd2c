"""Requests to admin-configured upstreams from an asyncio loop (the poller).

    async with outbound.upstream_client() as client:
        answer = await outbound.send_async(client, "GET", url, headers=..., timeout=10)

The same answer as `send` (an OutboundResponse, the body cut at a cap), for
the one kind of URL the poller calls: an upstream provider's, which an admin
configured and which `send` already reaches with `allow_private=True`. So the
address policy has nothing to refuse here; the shape check (http or https,
no credentials in the URL) still applies. User-supplied URLs (callbacks,
images) never come this way.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections.abc import Mapping
from typing import Any

import httpx

from .client import USER_AGENT
from .errors import FetchError
from .guard import display, parse_url
from .sending import DEFAULT_MAX_RESPONSE_BYTES, OutboundResponse


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One certificate store for all of a poller's clients: each built its own
    (about 20 ms of CPU), and a poller holds dozens of clients."""
    return httpx.create_ssl_context()


def upstream_client(*, max_connections: int = 500, per_host: int = 100) -> httpx.AsyncClient:
    """One pooled client for a poller: keep-alive connections shared by every poll.

    HTTP/2 where the upstream offers it (TLS with ALPN): its polls then share
    a few multiplexed connections instead of one each.

    `per_host=0` keeps no connection open between requests, and speaks
    HTTP/1.1: for submits, which are never sent twice, a kept or shared
    connection the upstream closed meanwhile would turn a
    refused-before-reading request into an ambiguous one.
    """
    return httpx.AsyncClient(
        http2=per_host > 0,
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
        trust_env=False,
        verify=tls_context(),
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=per_host,
            keepalive_expiry=30,
        ),
        timeout=httpx.Timeout(10.0),
    )


async def send_async(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    json: Any = None,
    params: Mapping[str, str] | None = None,
    data: Mapping[str, Any] | None = None,
    files: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
) -> OutboundResponse:
    """One request and its answer, whatever the status; FetchError for network errors.

    `timeout` bounds the whole exchange, connect to last byte.
    """
    parsed = parse_url(url)
    sent = httpx.Headers({"Accept-Encoding": "identity"})
    sent.update(headers or {})
    request = client.build_request(
        method.upper(),
        parsed,
        json=json,
        params=params,
        data=data,
        files=files,
        headers=sent,
        timeout=timeout,
    )
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            response = await client.send(request, stream=True)
            try:
                body = bytearray()
                truncated = False
                async for chunk in response.aiter_raw():
                    room = max_response_bytes - len(body)
                    if len(chunk) > room:
                        body += chunk[:room]
                        truncated = True
                        break
                    body += chunk
            finally:
                await response.aclose()
    except TimeoutError:
        raise FetchError(f"timed out after {timeout:g} s waiting for {display(parsed)}.") from None
    except httpx.HTTPError as exc:
        detail = str(exc) or type(exc).__name__
        raise FetchError(f"the request to {display(parsed)} failed: {detail}.") from exc
    return OutboundResponse(
        status=response.status_code,
        headers=response.headers,
        body=bytes(body),
        elapsed_ms=round((time.monotonic() - started) * 1000),
        url=display(response.url),
        truncated=truncated,
    )
