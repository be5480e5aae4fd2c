"""The usage rollup: what each member's finished generations came to, day by day.

UsageDay holds sums per (team, day, member, model, API key, provider),
UsageMemberDay, UsageModelDay, UsageKeyDay and UsageProviderDay the same
sums per (team, day) and one of those, UsageFailure the failure codes
(playground/models.py):
the usage page and the gallery's totals read these where the generations
are millions, each query the smallest that holds what it groups by. record()
adds each generation to all of them as it finishes, called by
lifecycle.succeed and lifecycle.fail in the transaction that captures or
releases its hold: the rollup commits with the money or not at all, and a
generation settles once, so it is counted once. Their rows all lock after
the team's wallet row, which every settle of the team updates first, so two
settles never wait on each other's rollup rows in opposite orders.

The upsert adds to a row: an UPDATE of its counters (F() + n) and, when no
row matched, an INSERT inside a savepoint. Should another settle insert the
same key between the two, the unique constraint refuses ours (PostgreSQL
makes our INSERT wait for the other's commit, then fails it), the savepoint
rolls back and the UPDATE runs again, now finding the row: in READ
COMMITTED each statement sees what committed before it. On SQLite the
IMMEDIATE transactions run writers one at a time, so the race cannot
happen there. Django's update_or_create reads, then writes, and loses a
count in that race; bulk_create(update_conflicts=True) overwrites instead of
adding.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.apps import apps as installed_apps
from django.db import IntegrityError, transaction
from django.db.models import F, Model, QuerySet, Sum
from django.db.models.functions import TruncMonth, TruncWeek

from accounts.ledger import cents
from accounts.models import ZERO
from playground.models import (
    Generation,
    UsageDay,
    UsageFailure,
    UsageKeyDay,
    UsageMemberDay,
    UsageModelDay,
    UsageProviderDay,
)

MILLISECOND = timedelta(milliseconds=1)
BATCH = 5000
# Each rollup of sums and the columns of its key after (team, day).
ROLLUPS = {
    "UsageDay": ("member_id", "model_id", "api_key_prefix", "provider_name"),
    "UsageMemberDay": ("member_id",),
    "UsageModelDay": ("model_id",),
    "UsageKeyDay": ("api_key_prefix",),
    "UsageProviderDay": ("provider_name",),
}


# -- counting ------------------------------------------------------------------


def day_of(time_zone: str, finished_at: datetime) -> date:
    """The day a generation finished, in its team's time zone."""
    return finished_at.astimezone(ZoneInfo(time_zone)).date()


def counts(state: str, created_at: datetime, completed_at: datetime, charged: Decimal) -> dict:
    """What one finished generation adds to its UsageDay row."""
    if state == Generation.SUCCESS:
        took = max(0, (completed_at - created_at) // MILLISECOND)
        return {
            "succeeded": 1,
            "charged_credits": charged,
            "success_ms": took,
            UsageDay.duration_field(took): 1,
        }
    return {"failed": 1}


def record(generation: Generation, charged: Decimal = ZERO) -> None:
    """Count `generation`, which has just succeeded (charged `charged`) or failed.

    Called in the transaction that settled it. Reads its team's time zone,
    API key and provider through the generation: lifecycle joins them in
    the query that reads it back, so this costs no query of its own.
    """
    team, day = generation.team_id, day_of(generation.team.time_zone, generation.completed_at)
    member, model = generation.owner_id, generation.model_id
    adds = counts(generation.state, generation.created_at, generation.completed_at, charged)
    values = {
        "member_id": member,
        "model_id": model,
        "api_key_prefix": generation.api_key.prefix if generation.api_key_id else "",
        "provider_name": generation.provider.name if generation.provider_id else "",
    }
    for rollup in (UsageDay, UsageMemberDay, UsageModelDay, UsageKeyDay, UsageProviderDay):
        key = {column: values[column] for column in ROLLUPS[rollup.__name__]}
        _add(rollup, {"team_id": team, "day": day, **key}, adds)
    if generation.state == Generation.FAIL:
        _add(
            UsageFailure,
            {
                "team_id": team,
                "day": day,
                "member_id": member,
                "model_id": model,
                "fail_code": generation.fail_code,
            },
            {"count": 1},
        )


def _add(model: type[Model], key: dict, adds: dict) -> None:
    changes = {name: F(name) + value for name, value in adds.items()}
    if "charged_credits" in adds:
        changes["charged_credits"] = cents(F("charged_credits") + adds["charged_credits"])
    rows = model.objects.filter(**key)
    if rows.update(**changes):
        return
    try:
        with transaction.atomic():
            model.objects.create(**key, **adds)
    except IntegrityError:
        # Another settle inserted this key since our UPDATE, and has committed.
        rows.update(**changes)


def rebuild(apps=installed_apps, team_ids: Iterable[int] | None = None) -> None:
    """Count the rollups again from the finished generations (of `team_ids`, or all).

    Their rows are deleted and written anew, so run it while nothing settles
    the same teams' generations: the migration that made the rollups
    (0016_usage_rollup_fill, which passes its historical `apps` and reads
    only what exists at that migration), and benchmarks and tests that load
    generations straight into the table.
    """
    team_model = apps.get_model("accounts", "Team")
    generation_model = apps.get_model("playground", "Generation")
    # The rollups that exist in `apps`: a migration's sees those made before it.
    present = {model.__name__ for model in apps.get_app_config("playground").get_models()}
    summaries = {name: columns for name, columns in ROLLUPS.items() if name in present}
    rollups = {name: apps.get_model("playground", name) for name in [*summaries, "UsageFailure"]}
    teams = team_model.objects.order_by("pk")
    if team_ids is not None:
        teams = teams.filter(pk__in=list(team_ids))
    for team_id, time_zone in teams.values_list("pk", "time_zone"):
        for rollup in rollups.values():
            rollup.objects.filter(team_id=team_id).delete()
        sums: dict[str, dict[tuple, dict]] = {
            name: defaultdict(lambda: defaultdict(int)) for name in summaries
        }
        failures: dict[tuple, int] = defaultdict(int)
        finished = generation_model.objects.filter(
            team_id=team_id, state__in=[Generation.SUCCESS, Generation.FAIL]
        ).values_list(
            "owner_id",
            "model_id",
            "api_key__prefix",
            "provider__name",
            "state",
            "fail_code",
            "created_at",
            "completed_at",
            "charged_credits",
        )
        for (
            member,
            model,
            prefix,
            provider,
            state,
            code,
            created,
            completed,
            charged,
        ) in finished.order_by().iterator(chunk_size=BATCH):
            # A row loaded without its finishing time counts when it was made.
            completed = completed or created
            day = day_of(time_zone, completed)
            added = counts(state, created, completed, charged)
            values = {
                "member_id": member,
                "model_id": model,
                "api_key_prefix": prefix or "",
                "provider_name": provider or "",
            }
            for name, columns in summaries.items():
                row = sums[name][(day, *(values[column] for column in columns))]
                for column, value in added.items():
                    row[column] += value
            if state == Generation.FAIL:
                failures[(day, member, model, code)] += 1
        for name, rows in sums.items():
            rollup = rollups[name]
            columns = ("day", *ROLLUPS[name])
            rollup.objects.bulk_create(
                (
                    rollup(team_id=team_id, **dict(zip(columns, key, strict=True)), **row)
                    for key, row in rows.items()
                ),
                batch_size=BATCH,
            )
        failure_model = rollups["UsageFailure"]
        failure_model.objects.bulk_create(
            (
                failure_model(
                    team_id=team_id,
                    day=day,
                    member_id=member,
                    model_id=model,
                    fail_code=code,
                    count=count,
                )
                for (day, member, model, code), count in failures.items()
            ),
            batch_size=BATCH,
        )


# -- reading -------------------------------------------------------------------

# What a report groups by: the name of each, and the rollup's column for it.
GROUPS = {
    "member": "member__username",
    "model": "model_id",
    "provider": "provider_name",
    "api_key": "api_key_prefix",
}
# How a report's periods start: days as they are, weeks on Mondays, months on the 1st.
PERIODS = {"day": F("day"), "week": TruncWeek("day"), "month": TruncMonth("day")}
# The sums every report reads (named apart from the columns they add up).
TOTALS = {
    "successes": Sum("succeeded"),
    "failures": Sum("failed"),
    "charged": cents(Sum("charged_credits")),
    "success_time_ms": Sum("success_ms"),
}


@dataclass(frozen=True)
class Scope:
    """Whose usage, and which days: the team's, or one member's (member_id)."""

    team_id: int
    since: date
    until: date
    member_id: int | None = None

    def rows(self, by: str = "") -> QuerySet:
        """The rollup rows in scope: the smallest rollup that holds `by` (a
        column of GROUPS), the team's sums per member or per model when they do."""
        rollup = {
            "member__username": UsageMemberDay,
            "model_id": UsageModelDay,
            "api_key_prefix": UsageKeyDay,
            "provider_name": UsageProviderDay,
        }.get(by)
        if rollup is None or self.member_id is not None:
            rollup = UsageDay
        return self.of(rollup)

    def of(self, rollup: type[Model]) -> QuerySet:
        # Served by each rollup's (team, day, ...) key, or UsageDay's (member, day) index.
        rows = rollup.objects.filter(team_id=self.team_id, day__gte=self.since, day__lte=self.until)
        return rows.filter(member_id=self.member_id) if self.member_id is not None else rows


def over_time(scope: Scope, period: str, group: str, keys: list[str] | None = None) -> list[dict]:
    """The sums per period and group (of the groups in `keys`, or all), as
    {"period", <GROUPS[group]>, *TOTALS}."""
    column = GROUPS[group]
    rows = scope.rows(column)
    if keys is not None:
        rows = rows.filter(**{f"{column}__in": keys})
    return list(
        rows.annotate(period=PERIODS[period])
        .values("period", column)
        .annotate(**TOTALS)
        .order_by("period")
    )


def per_group(scope: Scope, group: str) -> list[dict]:
    """The sums per group over the whole range, as {<GROUPS[group]>, *TOTALS}."""
    column = GROUPS[group]
    return list(scope.rows(column).values(column).annotate(**TOTALS).order_by())


def per_period(scope: Scope, period: str) -> list[dict]:
    """The sums per period, all groups together, as {"period", *TOTALS}: from
    the smallest rollup, the team's sums per model and day."""
    return list(
        scope.rows("model_id")
        .annotate(period=PERIODS[period])
        .values("period")
        .annotate(**TOTALS)
        .order_by("period")
    )


def by_model(scope: Scope) -> list[dict]:
    """The sums per model, with the counts of each time range as "in_<column>"."""
    ranges = {f"in_{name}": Sum(name) for name in UsageDay.duration_fields()}
    return list(
        scope.rows("model_id").values("model_id").annotate(**TOTALS, **ranges).order_by("model_id")
    )


def failures_by_model(scope: Scope) -> dict[str, list[tuple[str, int]]]:
    """Each model's failure codes with their counts, the commonest first."""
    rows = (
        scope.of(UsageFailure)
        .values("model_id", "fail_code")
        .annotate(failures=Sum("count"))
        .order_by("model_id", "-failures", "fail_code")
    )
    codes: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for row in rows:
        codes[row["model_id"]].append((row["fail_code"], row["failures"]))
    return dict(codes)


def totals_by_member(rows: QuerySet) -> list[dict]:
    """Successes, failures and credits charged per member of `rows`, the biggest spender first."""
    return list(
        rows.values("member_id", "member__username")
        .annotate(**TOTALS)
        .order_by("-charged", "member__username")
    )


def quantile_range(counts: list[int], q: float) -> tuple[int, int | None] | None:
    """The time range that holds the q-quantile (nearest rank) of the successes
    counted in `counts` (one count per UsageDay.duration_fields()): seconds
    (above low, at most high), high None past the last bound; None when there
    are none."""
    total = sum(counts)
    if not total:
        return None
    rank = max(1, math.ceil(q * total))
    bounds = UsageDay.DURATION_BOUNDS
    seen = 0
    for index, count in enumerate(counts):
        seen += count
        if seen >= rank:
            low = bounds[index - 1] if index else 0
            return low, bounds[index] if index < len(bounds) else None
    raise AssertionError("unreachable: the ranks run out before the counts")
