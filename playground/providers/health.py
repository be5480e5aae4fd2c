"""How an upstream provider has done lately, for the admin's provider page.

Read from the generations it was given (a submit it accepted) and from its
breaker's fields; a refused submit leaves no generation of its own, so it
shows as the provider's last error and in its breaker's streak.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from playground.models import Generation, Provider


@dataclass(frozen=True)
class Health:
    hours: int
    submits: int = 0
    succeeded: int = 0
    running: int = 0
    failures: dict[str, int] = field(default_factory=dict)  # fail code -> count
    median_seconds: float | None = None  # from start to success
    p95_seconds: float | None = None
    last_error: str = ""
    last_error_at: datetime | None = None
    cooling_until: datetime | None = None


def health(row: Provider, hours: int = 24) -> Health:
    since = timezone.now() - timedelta(hours=hours)
    rows = Generation.objects.filter(provider=row, started_at__gte=since).values_list(
        "state", "fail_code", "started_at", "completed_at"
    )
    failures: Counter[str] = Counter()
    durations: list[float] = []
    running = 0
    submits = 0
    for state, fail_code, started_at, completed_at in rows:
        submits += 1
        if state == Generation.SUCCESS and completed_at:
            durations.append((completed_at - started_at).total_seconds())
        elif state == Generation.FAIL:
            failures[fail_code or "UNKNOWN"] += 1
        else:
            running += 1
    return Health(
        hours=hours,
        submits=submits,
        succeeded=len(durations),
        running=running,
        failures=dict(failures.most_common()),
        median_seconds=statistics.median(durations) if durations else None,
        p95_seconds=_percentile(durations, 95),
        last_error=row.last_error,
        last_error_at=row.last_error_at,
        cooling_until=row.cooling_until,
    )


def _percentile(values: list[float], percent: int) -> float | None:
    """The nearest-rank percentile: a value that actually occurred."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * percent // 100))  # ceil
    return ordered[rank - 1]
