"""Drill: 500 createTask calls at once on an account that affords 100.

All 500 are in flight together (asyncio and httpx against the live
gunicorn), racing for one account's row. Exactly 100 must be accepted and
400 refused with 402; the account never goes below zero while they race;
the 100 finish and leave the balance at exactly zero.
"""

import threading
from decimal import Decimal

from accounts import apikeys, ledger
from accounts.models import CreditAccount, LedgerEntry, Team
from accounts.teams import create_member
from playground import catalog
from playground.models import Generation
from tests.reliability.conftest import assert_books_balance, wait_all_finished
from tests.reliability.stack import create_together, needs_services

pytestmark = needs_services

CALLS = 500
AFFORDABLE = 100
BODY = {"model": "kling/v2-1", "input": {"prompt": "A red fox in snow", "resolution": "480p"}}


def price() -> Decimal:
    spec = catalog.get_spec(BODY["model"])
    return catalog.quote(spec.id, catalog.validate(spec.id, BODY["input"])).credits


class BalanceWatch(threading.Thread):
    """Reads the account as fast as it can while the calls race: the lowest figures seen."""

    def __init__(self, account_id: int):
        super().__init__(daemon=True)
        self.account_id = account_id
        self.lowest_available: Decimal | None = None
        self.lowest_balance: Decimal | None = None
        self.stopping = threading.Event()

    def run(self) -> None:
        from django.db import connection

        try:
            while not self.stopping.is_set():
                account = CreditAccount.objects.get(pk=self.account_id)
                available = account.balance - account.held
                self.lowest_available = min(available, self.lowest_available or available)
                self.lowest_balance = min(account.balance, self.lowest_balance or account.balance)
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def test_500_racing_creates_on_an_account_for_100_accept_exactly_100(
    stacks, instant_provider, transactional_db
):
    each = price()
    granted = each * AFFORDABLE
    dave = create_member("dave", Team.objects.create(name="Racers"), password="dave-password")
    ledger.grant(dave.profile.team.wallet, granted, note="exactly 100 generations")
    _, key = apikeys.issue(dave, "race")
    stack = stacks(WEB_WORKERS="2", WEB_THREADS="8").start_all()

    watch = BalanceWatch(dave.profile.team.wallet.pk)
    watch.start()
    try:
        answers = create_together(stack.url, key, BODY, CALLS)
    finally:
        watch.stop()

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses.count(200) == AFFORDABLE, {s: statuses.count(s) for s in set(statuses)}
    assert statuses.count(402) == CALLS - AFFORDABLE
    assert all(answer.json()["code"] == answer.status_code for answer in answers)
    task_ids = [answer.json()["data"]["taskId"] for answer in answers if answer.status_code == 200]
    assert len(set(task_ids)) == AFFORDABLE
    assert Generation.objects.filter(owner=dave).count() == AFFORDABLE  # refused: nothing made
    assert watch.lowest_available >= 0 and watch.lowest_balance >= 0

    generations = wait_all_finished(task_ids, timeout=120, stacks=[stack])
    assert {g.state for g in generations} == {Generation.SUCCESS}
    account = CreditAccount.objects.get(team__members__user=dave)
    assert (account.balance, account.held) == (Decimal("0.00"), Decimal("0.00"))
    assert LedgerEntry.objects.filter(account=account, kind=LedgerEntry.HOLD).count() == AFFORDABLE
    assert_books_balance(dave, generations, granted=granted)
