"""The credit ledger: the only code that moves credits.

Every movement is a LedgerEntry row written in the same transaction as the
change to the CreditAccount it explains, so an account's `balance` always
equals the sum of its entries' `amount` and its `held` the sum of their
`held_change`.

Races are settled by conditional UPDATEs whose row count is checked, which
behave the same on PostgreSQL (the second writer waits on the row lock, then
re-evaluates the WHERE clause) and on SQLite (IMMEDIATE transactions
serialize writers):
- a hold only succeeds while `balance - held >= amount`, so the available
  credits never go below zero however many requests race;
- a hold is closed by moving its row out of the `open` state, so it is
  captured or released exactly once; the second call is a no-op.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import transaction
from django.db.models import F, Sum
from django.db.models.functions import Round
from django.utils import timezone

from accounts import audit
from accounts.models import ZERO, AuditEntry, CreditAccount, CreditHold, LedgerEntry

CENT = Decimal("0.01")


def cents(expression) -> Round:
    """Credit arithmetic done in SQL, rounded to the cent as it is written.

    SQLite keeps a fractional decimal as a binary float: summed in SQL
    unrounded, holds of 3.20 drifted to -8.9e-16 held once captured, and the
    account's check constraint (held >= 0) refused the capture.
    """
    return Round(expression, 2, output_field=CreditAccount._meta.get_field("balance"))


class InsufficientCredits(Exception):
    def __init__(self, required: Decimal, available: Decimal):
        self.required = required
        self.available = available
        super().__init__(f"Not enough credits: {required} needed, {available} available.")


def to_credits(value) -> Decimal:
    """A credit amount as a Decimal with two places. Floats are refused."""
    if isinstance(value, float):
        raise TypeError("credits are Decimal, never float")
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError):
        raise ValueError(f"{value!r} is not an amount of credits") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not an amount of credits")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _positive(value) -> Decimal:
    amount = to_credits(value)
    if amount <= ZERO:
        raise ValueError("the amount must be positive")
    return amount


def grant(account: CreditAccount, amount, *, note: str = "", actor=None) -> LedgerEntry:
    amount = _positive(amount)
    with transaction.atomic():
        CreditAccount.objects.filter(pk=account.pk).update(balance=cents(F("balance") + amount))
        _audit(account, actor, AuditEntry.CREDITS_GRANTED, amount, note)
        return LedgerEntry.objects.create(
            account=account, kind=LedgerEntry.GRANT, amount=amount, note=note, actor=actor
        )


def adjust(account: CreditAccount, amount, *, note: str, actor=None) -> LedgerEntry:
    """A manual correction, positive or negative. It may not overspend."""
    amount = to_credits(amount)
    if amount == ZERO:
        raise ValueError("an adjustment of zero changes nothing")
    with transaction.atomic():
        updated = CreditAccount.objects.filter(
            pk=account.pk, balance__gte=cents(F("held") - amount)
        ).update(balance=cents(F("balance") + amount))
        if not updated:
            raise InsufficientCredits(-amount, available(account))
        _audit(account, actor, AuditEntry.CREDITS_ADJUSTED, amount, note)
        return LedgerEntry.objects.create(
            account=account, kind=LedgerEntry.ADJUST, amount=amount, note=note, actor=actor
        )


def _audit(account: CreditAccount, actor, action: str, amount: Decimal, note: str) -> None:
    # Grants and adjustments are a person's decisions: the team's audit log
    # shows them beside role and budget changes. Holds and charges are not.
    audit.record(
        account.team_id, actor, action, "team wallet", after={"credits": str(amount), "note": note}
    )


def hold(
    account: CreditAccount | int,
    amount,
    reference: str,
    *,
    note: str = "",
    member_id: int | None = None,
    api_key_id: int | None = None,
) -> CreditHold:
    """Reserve credits for work identified by `reference` (unique) on `account`
    (the team's wallet, or its id: an API call knows only the id,
    accounts/keycache.py), spent by `member_id` through `api_key_id`.

    Raises InsufficientCredits, holding nothing, when fewer are available.
    Call it inside the transaction that records the work, as late in it as
    possible, so the two exist together or not at all.
    """
    amount = to_credits(amount)
    if amount < ZERO:
        raise ValueError("a hold cannot be negative")
    # Every hold on an account waits for the lock its UPDATE takes until the
    # commit, so the UPDATE comes last, after the rows that need no lock. No
    # savepoint (two more statements on every submit): a failed hold fails the
    # caller's whole transaction, which must not record its work without the
    # hold anyway. A caller that goes on after InsufficientCredits wraps the
    # call in transaction.atomic() of its own.
    account_id = account.pk if isinstance(account, CreditAccount) else account
    with transaction.atomic(savepoint=False):
        credit_hold = CreditHold.objects.create(
            account_id=account_id,
            reference=reference,
            amount=amount,
            member_id=member_id,
            api_key_id=api_key_id,
        )
        LedgerEntry.objects.create(
            account_id=account_id,
            kind=LedgerEntry.HOLD,
            held_change=amount,
            reference=reference,
            note=note,
            member_id=member_id,
            api_key_id=api_key_id,
        )
        # The race arbiter of every hold: it only succeeds while balance - held
        # stays >= 0, whatever ran between the caller's read and this statement.
        raised = CreditAccount.objects.filter(
            pk=account_id, balance__gte=cents(F("held") + amount)
        ).update(held=cents(F("held") + amount))
        if not raised:
            raise InsufficientCredits(amount, available(account_id))
    return credit_hold


def capture(reference: str, final_amount=None, *, note: str = "") -> LedgerEntry | None:
    """Charge the hold: `final_amount` (at most the held amount, default all of it).

    The rest of the hold is freed. Returns None when the hold was already
    closed, so a retried worker never charges twice.
    """
    with transaction.atomic():
        credit_hold = CreditHold.objects.get(reference=reference)
        final = credit_hold.amount if final_amount is None else to_credits(final_amount)
        if not ZERO <= final <= credit_hold.amount:
            raise ValueError(f"cannot capture {final} of a hold of {credit_hold.amount}")
        if not _close(credit_hold, CreditHold.CAPTURED, captured=final):
            return None
        CreditAccount.objects.filter(pk=credit_hold.account_id).update(
            balance=cents(F("balance") - final), held=cents(F("held") - credit_hold.amount)
        )
        return LedgerEntry.objects.create(
            account_id=credit_hold.account_id,
            kind=LedgerEntry.CAPTURE,
            amount=-final,
            held_change=-credit_hold.amount,
            reference=reference,
            note=note,
            member_id=credit_hold.member_id,
            api_key_id=credit_hold.api_key_id,
        )


def release(reference: str, *, note: str = "") -> LedgerEntry | None:
    """Free the hold without charging. A no-op (None) when already closed."""
    with transaction.atomic():
        credit_hold = CreditHold.objects.get(reference=reference)
        if not _close(credit_hold, CreditHold.RELEASED):
            return None
        CreditAccount.objects.filter(pk=credit_hold.account_id).update(
            held=cents(F("held") - credit_hold.amount)
        )
        return LedgerEntry.objects.create(
            account_id=credit_hold.account_id,
            kind=LedgerEntry.RELEASE,
            held_change=-credit_hold.amount,
            reference=reference,
            note=note,
            member_id=credit_hold.member_id,
            api_key_id=credit_hold.api_key_id,
        )


def _close(credit_hold: CreditHold, state: str, **fields) -> bool:
    # The guarded UPDATE is the race arbiter: only one caller moves the row
    # out of `open`.
    closed = CreditHold.objects.filter(pk=credit_hold.pk, state=CreditHold.OPEN).update(
        state=state, closed_at=timezone.now(), **fields
    )
    return closed == 1


def current(account: CreditAccount | int) -> CreditAccount:
    """The account's balance and held as the database has them now, however
    long ago `account` itself was read (or only its id known)."""
    return _fresh(account)


def available(account: CreditAccount | int) -> Decimal:
    return _fresh(account).available()


def _fresh(account: CreditAccount | int) -> CreditAccount:
    account_id = account.pk if isinstance(account, CreditAccount) else account
    return CreditAccount.objects.only("balance", "held").get(pk=account_id)


def totals_from_entries(account: CreditAccount) -> tuple[Decimal, Decimal]:
    """(balance, held) recomputed from the entries: the audit of the account."""
    sums = LedgerEntry.objects.filter(account=account).aggregate(
        balance=cents(Sum("amount")), held=cents(Sum("held_change"))
    )
    return sums["balance"] or ZERO, sums["held"] or ZERO
