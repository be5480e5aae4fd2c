"""Drill: 40 createTask calls at once with one key whose unfinished-task limit is 5
(and with the keys of eight members of a team whose limit is 5).

All 40 are in flight together (asyncio and httpx against the live
gunicorn), with no worker running, so nothing finishes while they race.
Exactly 5 must be accepted and 35 refused with 429 and Retry-After: the
count is taken under the lock of the credit hold, not before it (the racy
count-then-insert let 8 and 11 through). Once the 5 finish, the next 40
get exactly 5 more, and the books balance.
"""

from decimal import Decimal

import httpx

from accounts import apikeys, ledger
from accounts.models import CreditAccount, CreditHold, Team
from accounts.teams import create_member
from playground.models import Generation
from tests.reliability.conftest import assert_books_balance, wait_all_finished
from tests.reliability.stack import create_together, needs_services

pytestmark = needs_services

CALLS = 40
LIMIT = 5
BODY = {"model": "kling/v2-1", "input": {"prompt": "A red fox in snow", "resolution": "480p"}}


def accepted_exactly_the_limit(answers: list[httpx.Response], holder: str = "API key") -> list[str]:
    """The task ids of the accepted calls, after checking every answer's shape."""
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * LIMIT + [429] * (CALLS - LIMIT), {
        status: statuses.count(status) for status in set(statuses)
    }
    for refused in (answer for answer in answers if answer.status_code == 429):
        assert refused.headers["Retry-After"] == "5"
        assert refused.json()["code"] == 429
        assert refused.json()["msg"].startswith(
            f"Too many unfinished tasks: {LIMIT} of {LIMIT} allowed for this {holder}."
        )
    return [answer.json()["data"]["taskId"] for answer in answers if answer.status_code == 200]


def test_40_racing_creates_with_a_limit_of_5_accept_exactly_5(
    stacks, instant_provider, transactional_db
):
    erin = create_member("erin", Team.objects.create(name="Limited"), password="erin-password")
    granted = Decimal("10000.00")  # credits are not what limits this drill
    ledger.grant(erin.profile.team.wallet, granted, note="plenty")
    _, key = apikeys.issue(erin, "race")
    stack = stacks(WEB_WORKERS="2", WEB_THREADS="8", API_MAX_UNFINISHED_TASKS=str(LIMIT))
    stack.start_web()  # no cluster yet: every accepted task stays unfinished

    first = accepted_exactly_the_limit(create_together(stack.url, key, BODY, CALLS))
    assert Generation.objects.filter(owner=erin).count() == LIMIT  # refused: nothing made
    assert CreditHold.objects.filter(member=erin).count() == LIMIT

    stack.start_sweeper()
    cluster = stack.start_cluster()
    wait_all_finished(first, timeout=120, stacks=[stack])
    # Again with nothing finishing during the race: a running cluster would
    # free places while the calls are still arriving.
    stack.kill_cluster(cluster)
    second = accepted_exactly_the_limit(create_together(stack.url, key, BODY, CALLS))

    stack.start_cluster()
    generations = wait_all_finished(first + second, timeout=120, stacks=[stack])
    assert {g.state for g in generations} == {Generation.SUCCESS}
    assert Generation.objects.filter(owner=erin).count() == 2 * LIMIT
    account = CreditAccount.objects.get(team__members__user=erin)
    assert account.held == Decimal("0.00")
    assert_books_balance(erin, generations, granted=granted)


def test_40_racing_creates_of_eight_members_with_a_team_limit_of_5_accept_exactly_5(
    stacks, instant_provider, transactional_db
):
    """The members hold on accounts of their own: only the team row's lock
    makes their creates pass the team's count one at a time."""
    team = Team.objects.create(name="Limited team")
    keys = []
    for n in range(8):  # eight accounts' locks: creates of different members overlap
        member = create_member(f"member{n}", team, password="member-password")
        ledger.grant(member.profile.team.wallet, Decimal("10000.00"), note="plenty")
        keys.append(apikeys.issue(member, "race")[1])
    stack = stacks(WEB_WORKERS="2", WEB_THREADS="8", API_MAX_UNFINISHED_PER_TEAM=str(LIMIT))
    stack.start_web()  # no cluster: every accepted task stays unfinished

    accepted = accepted_exactly_the_limit(create_together(stack.url, keys, BODY, CALLS), "team")

    assert Generation.objects.filter(team=team).count() == LIMIT  # refused: nothing made
    assert CreditHold.objects.filter(account__team=team).count() == LIMIT
    assert len(accepted) == LIMIT  # finishing them is the key drill's part above
