"""The pooled httpx clients, and the connection layer that enforces the guard.

DNS rebinding is defeated at the socket: `GuardedBackend.connect_tcp`
resolves the host once, checks every address against the policy, then
connects to those same checked addresses (never to the name, which would
resolve again). The URL keeps its host name, so TLS verifies the certificate
for that name and SNI carries it; rewriting URLs to IP addresses instead would
let a pooled TLS connection verified for one name carry requests for another
name on the same IP.

Connections are pooled per policy: a keep-alive connection opened while
private addresses were allowed (an admin-configured upstream) is never
handed to a request that must not reach them (a user's callback URL).
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import threading
import time
from collections.abc import Iterable

import httpcore
import httpx

from .guard import AddressRefused, Policy, display, refusal_among, resolve


def _user_agent() -> str:
    try:
        version = importlib.metadata.version("reelgate")
    except importlib.metadata.PackageNotFoundError:
        version = "dev"
    return f"Reelgate/{version}"


USER_AGENT = _user_agent()

_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=30)
# Policies seen in one process: normally two (user URLs, admin upstreams).
# Tests that change ALLOWED_PRIVATE_NETWORKS make more; past this many the
# oldest pool is forgotten rather than kept forever.
_MAX_CLIENTS = 8


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, connecting only to addresses the policy allows."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError):
            raise httpcore.ConnectError(f"could not resolve host {host}") from None
        refused = refusal_among(addresses, self.policy)
        if refused is not None:
            raise AddressRefused(host, *refused)

        deadline = None if timeout is None else time.monotonic() + timeout
        error: Exception | None = None
        for address in addresses:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            try:
                return super().connect_tcp(
                    str(address), port, remaining, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        if error is None:
            raise httpcore.ConnectTimeout(f"timed out connecting to {host}")
        raise error


def _transport(policy: Policy) -> httpx.HTTPTransport:
    transport = httpx.HTTPTransport(limits=_LIMITS)
    # httpx has no public way to give its pool a network backend, so the pool
    # is rebuilt here with the same settings and ours. Checked so that an
    # httpx upgrade that renames the attribute fails loudly, not open.
    if not isinstance(getattr(transport, "_pool", None), httpcore.ConnectionPool):
        raise RuntimeError("httpx.HTTPTransport no longer keeps its pool in _pool")
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=_LIMITS.max_connections,
        max_keepalive_connections=_LIMITS.max_keepalive_connections,
        keepalive_expiry=_LIMITS.keepalive_expiry,
        http1=True,
        http2=False,
        network_backend=GuardedBackend(policy),
    )
    return transport


def _new_client(policy: Policy) -> httpx.Client:
    return httpx.Client(
        transport=_transport(policy),
        headers={"User-Agent": USER_AGENT},
        # Redirects are followed by the caller, one checked hop at a time.
        follow_redirects=False,
        # No proxies from the environment (the guard cannot see past a
        # proxy) and no credentials from ~/.netrc.
        trust_env=False,
        timeout=httpx.Timeout(10.0),
    )


class _HideQueryStrings(logging.Filter):
    """httpx logs every request's full URL at INFO; query strings often carry tokens."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                display(arg) if isinstance(arg, httpx.URL) else arg for arg in record.args
            )
        return True


logging.getLogger("httpx").addFilter(_HideQueryStrings())


_lock = threading.Lock()
_clients: dict[Policy, httpx.Client] = {}
_pid = os.getpid()


def client_for(policy: Policy) -> httpx.Client:
    """The process's client for this policy, created on first use.

    Keyed by pid as well: a django-q2 worker forked from a process that had
    already made requests must not share that process's sockets.
    """
    global _pid
    with _lock:
        if _pid != os.getpid():
            # Dropped, not closed: closing would shut the parent's sockets too.
            _clients.clear()
            _pid = os.getpid()
        client = _clients.get(policy)
        if client is None:
            if len(_clients) >= _MAX_CLIENTS:
                # Forgotten, not closed: another thread may be mid-request on
                # it; its sockets close when it is collected.
                del _clients[next(iter(_clients))]
            client = _clients[policy] = _new_client(policy)
        return client


def _close_all_locked() -> None:
    for client in _clients.values():
        client.close()
    _clients.clear()


def close_clients() -> None:
    """Close every pooled connection of this process (shutdown, tests)."""
    with _lock:
        if _pid == os.getpid():
            _close_all_locked()
        else:
            _clients.clear()


def _after_fork_in_child() -> None:
    # The lock may have been held by another thread at the moment of fork.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
