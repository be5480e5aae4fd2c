"""Upstream callbacks: an upstream that calls back wakes the poll of its generation.

Each generation submitted to an upstream that can call back is given a URL
of ours, `PUBLIC_BASE_URL/api/upstream-callbacks/<task id>/<token>`, the
token an HMAC of the task id under SECRET_KEY: unguessable, and nothing to
store. A callback only makes the generation's next poll due now; the poll's
answer is what counts, so a forged or replayed callback costs one poll and
changes nothing. Polling goes on at its own pace as the safety net.

Without PUBLIC_BASE_URL no upstream can reach us, and none is given a URL.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.urls import reverse

from playground import lifecycle
from playground.models import Generation


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


def wake(task_id: str, token: str) -> bool:
    """A callback arrived: poll its generation now. False for a token that is not its own."""
    if not hmac.compare_digest(token_for(task_id), token):
        return False
    pk = Generation.objects.filter(task_id=task_id).values_list("pk", flat=True).first()
    if pk is not None:
        lifecycle.wake(pk)
    return True
