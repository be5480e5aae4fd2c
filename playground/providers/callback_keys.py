"""The keys that check upstream callbacks' signatures, fetched from the upstream and kept here.

An upstream that signs its callbacks publishes what checks them: Replicate
a signing secret per account (GET /v1/webhooks/default/secret), fal a set of
public keys (its JWKS). Asking for them on every callback would make each
callback wait on a second request, and let anyone who floods our callback
URL make us flood the upstream. So each process keeps them:

- for `ttl` seconds after a fetch; past that they are fetched again, and when
  that fetch fails the old ones are used meanwhile (a key endpoint down must
  not stop callbacks that the keys we hold still check);
- a signature the held keys do not check makes one fetch before it is
  refused, since the upstream may have rotated its keys; at most one such
  fetch per `refetch_every` seconds per key set, so forged callbacks cannot
  make us ask the upstream more often than that. (Only a URL we handed out,
  its token checked first, gets this far.)

Kept in process memory, not in the shared cache: a signing secret is not
something to copy into Redis, and each process fetching once per `ttl` costs
nothing. A fetch that fails raises CallbackUnverifiable: the caller answers so
that the upstream calls back again later.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from playground.providers.base import CallbackUnverifiable

K = TypeVar("K")
log = logging.getLogger(__name__)


def fresh(timestamp: str, tolerance: float) -> bool:
    """Whether a callback's timestamp (unix seconds, as sent) is within `tolerance` of now.

    Both ways: a timestamp from the future is as suspect as an old one. An
    old signed callback replayed is refused here, before any key is fetched.
    """
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    return abs(time.time() - int(timestamp)) <= tolerance


@dataclass
class _Held(Generic[K]):
    keys: K
    fetched_at: float
    forced_at: float = float("-inf")  # the last fetch a failed check made
    forced_failed: bool = False  # and it could not fetch: rotated keys may be out of reach


class KeyCache(Generic[K]):
    def __init__(self, *, ttl: float, refetch_every: float) -> None:
        self.ttl = ttl
        self.refetch_every = refetch_every
        self._held: dict[str, _Held[K]] = {}
        self._lock = threading.Lock()

    def check(self, name: str, fetch: Callable[[], K], signed: Callable[[K], bool]) -> bool:
        """Whether `signed(keys)` holds with the keys under `name`, fetched by `fetch` as above.

        Raises CallbackUnverifiable when no keys can be had, or when the held
        ones fail and the fetch that would bring rotated ones fails too.
        """
        held = self._current(name, fetch)
        if signed(held.keys):
            return True
        now = time.monotonic()
        with self._lock:
            recent = now - held.forced_at < self.refetch_every
            if not recent:
                held.forced_at, held.forced_failed = now, False
        if recent:
            if held.forced_failed:
                raise CallbackUnverifiable("the keys could not be fetched again a moment ago")
            return False
        try:
            keys = fetch()
        except CallbackUnverifiable:
            # The keys may have been rotated out of our reach: not a forgery
            # yet; the upstream calls back again later.
            held.forced_failed = True
            raise
        with self._lock:
            self._held[name] = _Held(keys, time.monotonic(), forced_at=now)
        return signed(keys)

    def _current(self, name: str, fetch: Callable[[], K]) -> _Held[K]:
        with self._lock:
            held = self._held.get(name)
        if held is not None and time.monotonic() - held.fetched_at < self.ttl:
            return held
        try:
            keys = fetch()
        except CallbackUnverifiable as exc:
            if held is None:
                raise
            # Stale, but the best there is: used, and asked for again only
            # after `refetch_every`, not on every callback meanwhile.
            log.warning("kept the callback keys held for %s: %s", name, exc)
            with self._lock:
                held.fetched_at = time.monotonic() - self.ttl + self.refetch_every
            return held
        # Fetched outside the lock: two requests may both fetch once; neither waits on the other.
        fetched = _Held(keys, time.monotonic(), held.forced_at if held else float("-inf"))
        with self._lock:
            self._held[name] = fetched
        return fetched

    def clear(self) -> None:
        """Forget every key held (tests, which reuse ports and ids)."""
        with self._lock:
            self._held.clear()
