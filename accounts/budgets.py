"""Budgets: how much one member, or one API key, may spend in a period.

A budget's use in its period is what the generations submitted in it cost:
the charge of each that succeeded, plus the hold of each still running
(held credits count until released; a failure releases them and counts
nothing). It is read from the wallet's holds, which name the member and the
key (accounts/models.py), so it is exact without a counter to keep.

`refuse_over_budget` runs inside the submit's transaction after the hold,
under the lock of the wallet's row that the hold's UPDATE takes. Every
create of a team holds on that one wallet, so creates against one budget
pass it one at a time, each counting the holds the ones before it
committed: N racing creates against a budget that affords K succeed exactly
K times (tests/reliability/test_budget_race.py).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Case, F, Q, Sum, Value, When
from django.utils import timezone

from accounts import audit
from accounts.ledger import cents, to_credits
from accounts.models import ZERO, ApiKey, AuditEntry, Budget, CreditHold, Profile, Team

ADJECTIVES = {
    Budget.NONE: "lifetime",
    Budget.DAY: "daily",
    Budget.WEEK: "weekly",
    Budget.MONTH: "monthly",
}


@dataclass(frozen=True)
class Use:
    """A budget as it stands: its limit, what its period has used, and when that resets."""

    budget: Budget
    used: Decimal
    resets_at: datetime | None

    @property
    def remaining(self) -> Decimal:
        return max(ZERO, self.budget.limit - self.used)

    def describe_reset(self) -> str:
        if self.resets_at is None:
            return "it does not reset (a lifetime budget)"
        zone = self.resets_at.tzinfo
        return f"it resets {self.resets_at:%Y-%m-%d %H:%M} ({zone})"


class BudgetExceeded(Exception):
    """A generation would take a member's or a key's spending past its budget."""

    def __init__(self, use: Use, required: Decimal):
        self.use = use
        self.required = required
        budget = use.budget
        super().__init__(
            f"The {ADJECTIVES[budget.period]} budget of {budget.describe()} is spent: "
            f"{use.used - required} of {budget.limit} credits used, and this generation "
            f"needs {required}; {use.describe_reset()}."
        )


def period_bounds(period: str, zone: zoneinfo.ZoneInfo, now: datetime):
    """(start, end) of the calendar period holding `now` in `zone`; (None, None)
    for a lifetime budget. Midnights are the zone's own, across DST changes."""
    if period == Budget.NONE:
        return None, None
    local = now.astimezone(zone)
    day = datetime(local.year, local.month, local.day, tzinfo=zone)
    if period == Budget.DAY:
        return day, _local_midnight(day + timedelta(days=1), zone)
    if period == Budget.WEEK:
        start = _local_midnight(day - timedelta(days=local.weekday()), zone)
        return start, _local_midnight(start + timedelta(days=7), zone)
    start = day.replace(day=1)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start, datetime(year, month, 1, tzinfo=zone)


def _local_midnight(moment: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    return datetime(moment.year, moment.month, moment.day, tzinfo=zone)


def use_of(budget: Budget, now: datetime | None = None) -> Use:
    """What `budget` has used in its current period, read now."""
    start, end = period_bounds(budget.period, budget.team.zone, now or timezone.now())
    holds = CreditHold.objects.filter(account__team_id=budget.team_id)
    if budget.api_key_id is not None:
        holds = holds.filter(api_key_id=budget.api_key_id)
    else:
        holds = holds.filter(member_id=budget.member_id)
    if start is not None:
        holds = holds.filter(created_at__gte=start)
    spent = holds.aggregate(
        spent=cents(
            Sum(
                Case(
                    When(state=CreditHold.OPEN, then=F("amount")),
                    When(state=CreditHold.CAPTURED, then=F("captured")),
                    default=Value(ZERO),
                )
            )
        )
    )["spent"]
    return Use(budget, to_credits(spent or ZERO), end)


def budgets_for(team_id: int, member_id: int, api_key_id: int | None):
    """The member's budget and the key's, as a submit checks them."""
    whose = Q(member_id=member_id)
    if api_key_id is not None:
        whose |= Q(api_key_id=api_key_id)
    return Budget.objects.filter(whose, team_id=team_id).select_related("team", "member", "api_key")


def refuse_over_budget(team_id: int, member_id: int, api_key_id: int | None, amount) -> None:
    """Raise BudgetExceeded when the hold of `amount` just made takes the
    member's or the key's budget past its limit. Call it after the hold, in
    its transaction (see the module's docstring)."""
    for budget in budgets_for(team_id, member_id, api_key_id):
        use = use_of(budget)
        if use.used > budget.limit:
            raise BudgetExceeded(use, to_credits(amount))


def remaining_for(team_id: int, member_id: int, api_key_id: int | None = None) -> Use | None:
    """The tightest of the member's (and the key's) budgets, or None without one:
    what the pages show and check before a submit."""
    uses = [use_of(budget) for budget in budgets_for(team_id, member_id, api_key_id)]
    return min(uses, key=lambda use: use.remaining, default=None)


def set_budget(
    team: Team,
    *,
    limit,
    period: str,
    member=None,
    api_key: ApiKey | None = None,
    actor: AbstractBaseUser | None = None,
) -> Budget:
    """Create or change the budget of `member` or of `api_key` in `team`, and
    write it to the team's audit log. Whether `actor` may: `may_set`."""
    if (member is None) == (api_key is None):
        raise ValueError("a budget is for a member or for an API key")
    if period not in dict(Budget.PERIODS):
        raise ValueError(f"{period!r} is not a budget period")
    limit = to_credits(limit)
    if limit < ZERO:
        raise ValueError("a budget cannot be negative")
    whose = {"member": member} if member is not None else {"api_key": api_key}
    with transaction.atomic():
        before = Budget.objects.select_for_update().filter(team=team, **whose).first()
        budget, _ = Budget.objects.update_or_create(
            team=team, **whose, defaults={"limit": limit, "period": period}
        )
        audit.record(
            team,
            actor,
            AuditEntry.BUDGET_SET,
            f"budget of {budget.describe()}",
            before=_terms(before),
            after=_terms(budget),
        )
    return budget


def remove_budget(budget: Budget, *, actor: AbstractBaseUser | None = None) -> None:
    with transaction.atomic():
        audit.record(
            budget.team_id,
            actor,
            AuditEntry.BUDGET_REMOVED,
            f"budget of {budget.describe()}",
            before=_terms(budget),
        )
        budget.delete()


def _terms(budget: Budget | None) -> dict | None:
    if budget is None:
        return None
    return {"limit": str(budget.limit), "period": budget.get_period_display().lower()}


def may_set(
    actor: Profile, *, member: Profile | None = None, api_key: ApiKey | None = None
) -> bool:
    """Owners and admins set every budget of their team; a member sets the
    budgets of their own keys, never their own."""
    if member is not None:
        return actor.can_manage() and member.team_id == actor.team_id
    return api_key.user_id == actor.user_id or actor.can_manage()
