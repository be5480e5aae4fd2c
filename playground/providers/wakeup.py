"""Upstream callbacks: an upstream that calls back wakes the poll of its generation.

Each generation submitted to an upstream that can call back is given a URL
of ours, `PUBLIC_BASE_URL/api/upstream-callbacks/<task id>/<token>`, the
token an HMAC of the task id under SECRET_KEY: unguessable, and nothing to
store. A callback only makes the generation's next poll due now; the poll's
answer is what counts, so even a callback that got through changes nothing
but the time of one poll. Polling goes on at its own pace as the safety net.

Before it wakes anything, a callback is checked twice:

1. its token, the same check for every task id, so a wrong one says nothing
   of which task ids exist (NOT_OURS);
2. the signature of the generation's upstream, where that upstream signs
   its callbacks (Replicate, fal: the provider's `verify_callback`). Only a
   URL we handed out gets this far. A signature that does not check is
   FORGED; keys that cannot be fetched now leave it UNCHECKED, and the
   upstream, which retries an answer that is not a 2xx, calls back later.

Without PUBLIC_BASE_URL no upstream can reach us, and none is given a URL.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
from collections.abc import Mapping

from django.conf import settings
from django.urls import reverse

from playground import lifecycle, providers
from playground.models import Generation
from playground.providers.base import CallbackUnverifiable

log = logging.getLogger(__name__)


class Verdict(enum.Enum):
    WOKEN = "woken"  # checked: its generation, if still running, is polled now
    NOT_OURS = "not ours"  # a token we never gave out
    FORGED = "forged"  # the upstream's signature does not check
    UNCHECKED = "unchecked"  # the keys to check it could not be had now


def token_for(task_id: str) -> str:
    key = hashlib.sha256(f"upstream-callback:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, task_id.encode(), hashlib.sha256).hexdigest()[:40]


def callback_url(generation: Generation) -> str | None:
    """The URL this generation's upstream may call back, or None when none can reach us."""
    if not settings.PUBLIC_BASE_URL:
        return None
    path = reverse(
        "upstream-callback",
        kwargs={"task_id": generation.task_id, "token": token_for(generation.task_id)},
    )
    return settings.PUBLIC_BASE_URL + path


def wake(task_id: str, token: str, headers: Mapping[str, str], body: bytes) -> Verdict:
    """A callback arrived with these headers and raw body: check it, then poll now."""
    if not hmac.compare_digest(token_for(task_id), token):
        return Verdict.NOT_OURS
    generation = Generation.objects.select_related("provider").filter(task_id=task_id).first()
    if generation is None:
        return Verdict.WOKEN  # nothing to wake: a URL of ours whose row is gone
    if generation.provider is not None:
        # The provider it was sent to is set before the submit goes out
        # (lifecycle.submitting), so a callback that beats the submit's answer
        # is checked by the right upstream's keys too.
        provider = providers.for_row(generation.provider)
        lowered = {name.lower(): value for name, value in headers.items()}
        try:
            signed = provider.verify_callback(lowered, body)
        except CallbackUnverifiable as exc:
            log.warning("could not check a callback for %s: %s", task_id, exc)
            return Verdict.UNCHECKED
        if not signed:
            log.warning("refused a callback for %s: its signature does not check", task_id)
            return Verdict.FORGED
    lifecycle.wake(generation.pk)
    return Verdict.WOKEN
