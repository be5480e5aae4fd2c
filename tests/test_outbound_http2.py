"""The poller's upstream client speaks HTTP/2 to an upstream that offers it.

A real HTTP/2 server (hypercorn) on 127.0.0.1 with a certificate of a test
CA, trusted by the poller's TLS context in this process only.
"""

import asyncio
import socket
import threading
import time

import pytest
import trustme
from hypercorn.asyncio import serve
from hypercorn.config import Config

from playground import outbound
from playground.outbound.async_sending import tls_context
from tests.reliability.stack import free_port

POLLS = 20


class Upstream:
    """An ASGI app answering every request with JSON, noting the HTTP version and connection."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, tuple]] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        self.seen.append((scope["http_version"], scope["client"]))
        await asyncio.sleep(0.2)  # answers overlap, as slow polls do
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"state": "generating"}'})


@pytest.fixture(scope="module")
def ca():
    authority = trustme.CA()
    authority.configure_trust(tls_context())
    return authority


def running(ca, tmp_path, alpn: list[str]):
    """Start hypercorn in a thread of its own; return (url, app, stop)."""
    certificate = ca.issue_cert("127.0.0.1")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    certificate.private_key_and_cert_chain_pem.write_to_path(str(cert))
    certificate.private_key_pem.write_to_path(str(key))
    config = Config()
    port = free_port()
    config.bind = [f"127.0.0.1:{port}"]
    config.certfile, config.keyfile = str(cert), str(key)
    config.alpn_protocols = alpn
    app, loop, stop = Upstream(), asyncio.new_event_loop(), None

    def run() -> None:
        nonlocal stop
        asyncio.set_event_loop(loop)
        stop = asyncio.Event()
        loop.run_until_complete(serve(app, config, shutdown_trigger=stop.wait))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def close() -> None:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)

    return f"https://127.0.0.1:{port}", app, close


async def poll_many(url: str) -> list[int]:
    async with outbound.upstream_client() as client:
        answers = await asyncio.gather(
            *(outbound.send_async(client, "GET", url + "/status", timeout=10) for _ in range(POLLS))
        )
    return [answer.status for answer in answers]


def started(url: str) -> None:
    """Until the server takes connections."""
    host, port = url.removeprefix("https://").split(":")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the HTTP/2 upstream did not start")


@pytest.mark.parametrize(
    ("offered", "spoken"),
    [(["h2", "http/1.1"], "2"), (["http/1.1"], "1.1")],
    ids=["offers-http2", "offers-http1-only"],
)
def test_polls_speak_http2_when_the_upstream_offers_it(ca, tmp_path, offered, spoken):
    url, app, close = running(ca, tmp_path, offered)
    try:
        started(url)
        statuses = asyncio.run(poll_many(url))
    finally:
        close()
    assert statuses == [200] * POLLS
    assert {version for version, _ in app.seen} == {spoken}
    if spoken == "2":
        assert len({client for _, client in app.seen}) == 1  # multiplexed on one connection
