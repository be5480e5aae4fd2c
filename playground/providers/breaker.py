"""Each upstream provider's circuit breaker, and the last error an admin sees.

A refused submit, an ambiguous one or a failed poll counts against the
provider; after PROVIDER_BREAKER_FAILURES in a row it is passed over by
routing for PROVIDER_COOLDOWN_SECONDS. When the cool-down ends it is tried
again; the streak is kept, so one more failure opens it again at once, and
one accepted submit or answered poll closes it.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from playground.models import Provider
from playground.providers import routing


def failed(provider_id: int, message: str) -> None:
    now = timezone.now()
    Provider.objects.filter(pk=provider_id).update(
        failure_streak=F("failure_streak") + 1, last_error=message[:2000], last_error_at=now
    )
    if Provider.objects.filter(
        pk=provider_id, failure_streak__gte=settings.PROVIDER_BREAKER_FAILURES
    ).update(cooldown_until=now + timedelta(seconds=settings.PROVIDER_COOLDOWN_SECONDS)):
        routing.forget()


def answered(provider_id: int, *, seen: Provider | None = None) -> None:
    """The provider answered: its failure streak ends and its breaker closes.

    `seen`: the row as read moments ago (with the generation being polled).
    When it shows the breaker closed there is nothing to reset, and the
    statement is skipped (a failure since then ends with a later answer).
    """
    if seen is not None and not seen.failure_streak and seen.cooldown_until is None:
        return
    # Usually a no-op that matches no row: most answers come from a closed breaker.
    if Provider.objects.filter(
        Q(failure_streak__gt=0) | Q(cooldown_until__isnull=False), pk=provider_id
    ).update(failure_streak=0, cooldown_until=None):
        routing.forget()
