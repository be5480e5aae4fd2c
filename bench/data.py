"""Rows the benchmarks need: an API user with a huge balance, the instant provider."""

from __future__ import annotations

import secrets
from decimal import Decimal

from accounts import apikeys, ledger
from accounts.models import Team
from accounts.teams import create_member, wallet_of
from playground.models import Provider

# Enough for any run: 10^9 credits (the ledger's fields hold up to 10^11).
HUGE_BALANCE = Decimal(10**9)


def api_user(team_name: str, username: str, credits: Decimal = HUGE_BALANCE):
    """A user in a team of their own with `credits` and an API key: (user, raw key)."""
    team = Team.objects.create(name=team_name)
    user = create_member(username, team, password=secrets.token_urlsafe(16))
    ledger.grant(wallet_of(user), credits, note="benchmark credits")
    _, raw_key = apikeys.issue(user, "benchmark")
    return user, raw_key


def more_keys(user, count: int) -> list[str]:
    """`count` more API keys of `user` (raw keys)."""
    return [apikeys.issue(user, f"benchmark {n}")[1] for n in range(count)]


def use_instant_provider() -> Provider:
    """Every model routes to the instant provider alone (the renderer is measured apart)."""
    Provider.objects.update(enabled=False)
    return Provider.objects.create(name="Instant (benchmark)", kind="instant", priority=1)
