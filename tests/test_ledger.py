from decimal import Decimal

import pytest
from django.db import transaction

from accounts import ledger
from accounts.models import CreditAccount, CreditHold, LedgerEntry


def fresh(user) -> CreditAccount:
    return CreditAccount.objects.get(team__members__user=user)


def assert_balanced(account):
    account.refresh_from_db()
    assert ledger.totals_from_entries(account) == (account.balance, account.held)


def test_it_grants_credits(alice):
    account = fresh(alice)
    assert account.balance == Decimal("500.00")
    ledger.grant(account, "12.345")
    account.refresh_from_db()
    assert account.balance == Decimal("512.35")  # two places, half up
    assert_balanced(account)


def test_it_refuses_float_and_non_positive_grants(alice):
    account = fresh(alice)
    with pytest.raises(TypeError):
        ledger.grant(account, 1.5)
    with pytest.raises(ValueError):
        ledger.grant(account, "0")
    with pytest.raises(ValueError):
        ledger.grant(account, "-3")
    with pytest.raises(ValueError):
        ledger.grant(account, "lots")
    assert fresh(alice).balance == Decimal("500.00")


def test_it_holds_then_captures(alice):
    account = fresh(alice)
    ledger.hold(account, "55", "gen-1")
    account.refresh_from_db()
    assert (account.balance, account.held, account.available()) == (
        Decimal("500.00"),
        Decimal("55.00"),
        Decimal("445.00"),
    )
    entry = ledger.capture("gen-1")
    assert entry.amount == Decimal("-55.00")
    account.refresh_from_db()
    assert (account.balance, account.held) == (Decimal("445.00"), Decimal("0.00"))
    assert CreditHold.objects.get(reference="gen-1").state == CreditHold.CAPTURED
    assert_balanced(account)


def test_it_captures_part_of_a_hold_and_frees_the_rest(alice):
    account = fresh(alice)
    ledger.hold(account, "20", "gen-1")
    ledger.capture("gen-1", "12.50")
    account.refresh_from_db()
    assert (account.balance, account.held) == (Decimal("487.50"), Decimal("0.00"))
    ledger.hold(account, "5", "gen-2")
    with pytest.raises(ValueError):
        ledger.capture("gen-2", "6")
    assert_balanced(account)


def test_it_releases_a_hold_without_charging(alice):
    account = fresh(alice)
    ledger.hold(account, "100", "gen-1")
    ledger.release("gen-1")
    account.refresh_from_db()
    assert (account.balance, account.held) == (Decimal("500.00"), Decimal("0.00"))
    assert_balanced(account)


def test_a_second_capture_or_release_is_a_no_op(alice):
    account = fresh(alice)
    ledger.hold(account, "30", "gen-1")
    assert ledger.capture("gen-1") is not None
    assert ledger.capture("gen-1") is None
    assert ledger.release("gen-1") is None
    account.refresh_from_db()
    assert account.balance == Decimal("470.00")
    assert LedgerEntry.objects.filter(reference="gen-1", kind=LedgerEntry.CAPTURE).count() == 1
    assert not LedgerEntry.objects.filter(reference="gen-1", kind=LedgerEntry.RELEASE).exists()
    assert_balanced(account)


def test_it_refuses_a_hold_above_the_available_credits(alice):
    account = fresh(alice)
    ledger.hold(account, "450", "gen-1")
    with pytest.raises(ledger.InsufficientCredits) as error, transaction.atomic():
        ledger.hold(account, "50.01", "gen-2")  # a savepoint of its own: the test goes on
    assert error.value.required == Decimal("50.01")
    assert error.value.available == Decimal("50.00")
    assert "50.01 needed, 50.00 available" in str(error.value)
    assert not CreditHold.objects.filter(reference="gen-2").exists()
    ledger.hold(account, "50", "gen-3")  # exactly the rest is fine
    account.refresh_from_db()
    assert account.available() == Decimal("0.00")
    assert_balanced(account)


def test_an_adjustment_cannot_overspend(alice):
    account = fresh(alice)
    ledger.hold(account, "400", "gen-1")
    with pytest.raises(ledger.InsufficientCredits):
        ledger.adjust(account, "-100.01", note="correction")
    ledger.adjust(account, "-100", note="correction")
    account.refresh_from_db()
    assert (account.balance, account.available()) == (Decimal("400.00"), Decimal("0.00"))
    assert_balanced(account)


def test_it_keeps_accounts_apart(alice, carol):
    ledger.hold(fresh(alice), "500", "gen-a")
    ledger.hold(fresh(carol), "500", "gen-c")
    ledger.capture("gen-a")
    assert fresh(alice).balance == Decimal("0.00")
    assert fresh(carol).balance == Decimal("500.00")


def test_fractional_holds_add_up_exactly(alice):
    """Credits are decimals on every database: four holds of 3.20 captured in turn leave 0 held.

    SQLite keeps a fractional decimal as a binary float; summed in SQL
    (held + 3.2 four times, then - 3.2), it drifted below zero and the
    account's check constraint refused the last capture.
    """
    account = fresh(alice)
    references = [f"render-{n}" for n in range(4)]
    for reference in references:
        ledger.hold(account, Decimal("3.20"), reference)
    for reference in references:
        ledger.capture(reference)

    account.refresh_from_db()
    assert (account.balance, account.held) == (Decimal("487.20"), Decimal("0.00"))
    assert_balanced(account)
