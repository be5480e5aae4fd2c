"""Drill: 150 createTask calls at once from one member's two keys, against a
member budget that affords 20 while the team's wallet affords them all.

The budget is checked in the transaction of the hold, under the wallet's row
lock, so exactly 20 are accepted and 130 refused with 402 naming the budget,
and the member's holds add up to what the budget allows.
"""

from decimal import Decimal

from accounts import apikeys, budgets, ledger
from accounts.models import CreditHold, Team
from accounts.teams import create_member
from playground import catalog
from playground.models import Generation
from tests.reliability.stack import create_together, needs_services

pytestmark = needs_services

CALLS = 150
AFFORDABLE = 20
BODY = {"model": "kling/v2-1", "input": {"prompt": "A red fox in snow", "resolution": "480p"}}


def test_150_racing_creates_against_a_budget_for_20_accept_exactly_20(
    stacks, instant_provider, transactional_db
):
    spec = catalog.get_spec(BODY["model"])
    each = catalog.quote(spec.id, catalog.validate(spec.id, BODY["input"])).credits
    erin = create_member("erin", Team.objects.create(name="Budgeted"), password="erin-password")
    ledger.grant(erin.profile.team.wallet, each * CALLS * 2, note="plenty")
    budgets.set_budget(erin.profile.team, member=erin, limit=each * AFFORDABLE, period="day")
    keys = [apikeys.issue(erin, name)[1] for name in ("one", "two")]
    stack = stacks(WEB_WORKERS="2", WEB_THREADS="8").start_all()

    answers = create_together(stack.url, keys, BODY, CALLS)

    statuses = [answer.status_code for answer in answers]
    assert statuses.count(200) == AFFORDABLE, {s: statuses.count(s) for s in set(statuses)}
    assert statuses.count(402) == CALLS - AFFORDABLE
    refusals = [answer.json()["msg"] for answer in answers if answer.status_code == 402]
    assert all(msg.startswith("The daily budget of member erin is spent") for msg in refusals)
    assert Generation.objects.filter(owner=erin).count() == AFFORDABLE
    held = sum((hold.amount for hold in CreditHold.objects.filter(member=erin)), Decimal("0"))
    assert held == each * AFFORDABLE
