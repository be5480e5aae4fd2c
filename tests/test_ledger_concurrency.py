"""Many requests racing for one account's credits, each on its own connection.

Runs on whichever database the suite is configured with; CI's second leg runs
it on PostgreSQL, where the row lock of the conditional UPDATE is what keeps
the account from overspending.
"""

import threading
from decimal import Decimal

import pytest
from django.db import connections

from accounts import ledger
from accounts.models import CreditAccount, CreditHold

WORKERS = 20


@pytest.mark.django_db(transaction=True)
def test_racing_holds_never_overspend(alice):
    # 500 credits: 16 holds of 30 fit
    account = CreditAccount.objects.get(team__members__user=alice)
    start = threading.Barrier(WORKERS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        try:
            start.wait()
            try:
                ledger.hold(account, "30", f"race-{n}")
                result = "held"
            except ledger.InsufficientCredits:
                result = "refused"
            with lock:
                outcomes.append(result)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["held"] * 16 + ["refused"] * 4
    account.refresh_from_db()
    assert account.held == Decimal("480.00")
    assert account.available() == Decimal("20.00")
    assert CreditHold.objects.filter(account=account).count() == 16
    assert ledger.totals_from_entries(account) == (account.balance, account.held)


@pytest.mark.django_db(transaction=True)
def test_racing_captures_charge_once(alice):
    account = CreditAccount.objects.get(team__members__user=alice)
    ledger.hold(account, "40", "once")
    start = threading.Barrier(10)
    results: list[object] = []

    def worker() -> None:
        try:
            start.wait()
            results.append(ledger.capture("once"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len([r for r in results if r is not None]) == 1
    account.refresh_from_db()
    assert (account.balance, account.held) == (Decimal("460.00"), Decimal("0.00"))
