"""The migration from one credit account per user to one wallet per team."""

from decimal import Decimal

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from accounts import ledger
from accounts.models import CreditAccount, CreditHold, LedgerEntry, Team

BEFORE = [("accounts", "0004_team_wallet_fields"), ("playground", "0014_favourite")]


def _account(apps, user, entries):
    """A per-user account as the old ledger wrote it: each (kind, amount, held
    change, reference) an entry, the account's totals their sums, and a hold row
    for each reference."""
    OldAccount = apps.get_model("accounts", "CreditAccount")
    OldEntry = apps.get_model("accounts", "LedgerEntry")
    OldHold = apps.get_model("accounts", "CreditHold")
    account = OldAccount.objects.create(
        user_id=user.pk,
        balance=sum((Decimal(amount) for _, amount, _, _ in entries), Decimal("0")),
        held=sum((Decimal(held) for _, _, held, _ in entries), Decimal("0")),
    )
    for kind, amount, held, reference in entries:
        OldEntry.objects.create(
            account=account, kind=kind, amount=amount, held_change=held, reference=reference
        )
    holds = {}
    for kind, amount, held, reference in entries:
        if kind == "hold":
            holds[reference] = OldHold.objects.create(
                account=account, reference=reference, amount=held
            )
        elif kind in ("capture", "release"):
            OldHold.objects.filter(pk=holds[reference].pk).update(
                state="captured" if kind == "capture" else "released",
                captured=-Decimal(amount),
            )
    return account


def test_every_users_credits_and_history_move_into_their_teams_wallet(migrated_back):
    apps = migrated_back
    User = apps.get_model("auth", "User")
    Profile = apps.get_model("accounts", "Profile")
    OldTeam = apps.get_model("accounts", "Team")
    OldGeneration = apps.get_model("playground", "Generation")
    OldApiKey = apps.get_model("accounts", "ApiKey")
    studio = OldTeam.objects.create(name="Old studio")
    solo = OldTeam.objects.create(name="Solo")
    ann, ben, cat = (User.objects.create(username=name) for name in ("ann", "ben", "cat"))
    for user, team in ((ann, studio), (ben, studio), (cat, solo)):
        Profile.objects.create(user=user, team=team)
    key = OldApiKey.objects.create(user=ann, prefix="rg_old", secret_hash="0" * 64)
    OldGeneration.objects.create(
        owner=ann,
        team=studio,
        api_key=key,
        task_id="ann-task",
        model_id="kling-2-1",
        quoted_credits="30.00",
        deadline_at=timezone.now(),
    )
    _account(
        apps,
        ann,
        [
            ("grant", "100.00", "0", ""),
            ("hold", "0", "30.00", "generation:ann-task"),
            ("capture", "-30.00", "-30.00", "generation:ann-task"),
            ("hold", "0", "12.50", "generation:ann-open"),
        ],
    )
    _account(
        apps,
        ben,
        [
            ("grant", "40.00", "0", ""),
            ("hold", "0", "7.20", "generation:ben-gone"),
            ("release", "0", "-7.20", "generation:ben-gone"),
            ("hold", "0", "3.30", "generation:ben-open"),
        ],
    )
    _account(apps, cat, [("grant", "5.00", "0", "")])
    # A team with no member left, and so no account: it gets an empty wallet.
    empty = OldTeam.objects.create(name="Nobody")

    MigrationExecutor(connection).migrate([("accounts", "0006_team_wallet")])

    wallet = CreditAccount.objects.get(team_id=studio.pk)
    assert (wallet.balance, wallet.held) == (Decimal("110.00"), Decimal("15.80"))
    assert ledger.totals_from_entries(wallet) == (wallet.balance, wallet.held)
    open_held = sum(h.amount for h in CreditHold.objects.filter(account=wallet, state="open"))
    assert open_held == wallet.held
    # Each entry and hold keeps whose account it was, and the generation's key.
    members = {e.reference or f"grant {e.amount}": e.member.username for e in wallet.entries.all()}
    assert members == {
        "grant 100.00": "ann",
        "generation:ann-task": "ann",
        "generation:ann-open": "ann",
        "grant 40.00": "ben",
        "generation:ben-gone": "ben",
        "generation:ben-open": "ben",
    }
    keyed = LedgerEntry.objects.filter(api_key_id=key.pk)
    assert sorted(keyed.values_list("kind", flat=True)) == ["capture", "hold"]
    assert CreditHold.objects.get(reference="generation:ann-task").api_key_id == key.pk

    solo_wallet = CreditAccount.objects.get(team_id=solo.pk)
    assert (solo_wallet.balance, solo_wallet.held) == (Decimal("5.00"), Decimal("0.00"))
    assert CreditAccount.objects.get(team_id=empty.pk).balance == Decimal("0.00")
    # One wallet a team.
    assert CreditAccount.objects.count() == Team.objects.count()
