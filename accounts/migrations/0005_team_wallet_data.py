"""Every user's credits and ledger history move into their team's wallet.

Each team keeps one account (its first member's), the others' entries and
holds move onto it with their balances, and every entry and hold keeps the
member whose account it was, and the API key of the generation it was for.
Afterwards each wallet's balance is still the sum of its entries and its
held the sum of its open holds (tests/test_team_wallet_migration.py).
"""

from django.db import migrations
from django.db.models import F, OuterRef, Subquery, Sum
from django.db.models.functions import Substr

GENERATION_REFERENCE = "generation:"


def _free_team_name(Team, base: str) -> str:
    name, n = base, 1
    while Team.objects.filter(name=name).exists():
        n += 1
        name = f"{base} {n}"
    return name


def to_team_wallets(apps, schema_editor):
    Team = apps.get_model("accounts", "Team")
    Profile = apps.get_model("accounts", "Profile")
    CreditAccount = apps.get_model("accounts", "CreditAccount")
    CreditHold = apps.get_model("accounts", "CreditHold")
    LedgerEntry = apps.get_model("accounts", "LedgerEntry")
    Generation = apps.get_model("playground", "Generation")

    # Whose account each entry and hold was on.
    for account in CreditAccount.objects.all():
        LedgerEntry.objects.filter(account=account).update(member_id=account.user_id)
        CreditHold.objects.filter(account=account).update(member_id=account.user_id)
    # The key of the generation each hold and its entries were for.
    key_of_generation = Generation.objects.filter(
        task_id=Substr(OuterRef("reference"), len(GENERATION_REFERENCE) + 1)
    ).values("api_key_id")[:1]
    for model in (LedgerEntry, CreditHold):
        model.objects.filter(reference__startswith=GENERATION_REFERENCE).update(
            api_key_id=Subquery(key_of_generation)
        )

    for account in CreditAccount.objects.order_by("pk"):
        profile = Profile.objects.filter(user_id=account.user_id).first()
        if profile is None:
            # A user without a team (loaded raw, never given one): a team of their own.
            team = Team.objects.create(name=_free_team_name(Team, f"user {account.user_id}"))
            profile = Profile.objects.create(user_id=account.user_id, team=team)
        wallet = CreditAccount.objects.filter(team_id=profile.team_id).first()
        if wallet is None:
            CreditAccount.objects.filter(pk=account.pk).update(team_id=profile.team_id)
            continue
        LedgerEntry.objects.filter(account=account).update(account=wallet)
        CreditHold.objects.filter(account=account).update(account=wallet)
        CreditAccount.objects.filter(pk=wallet.pk).update(
            balance=F("balance") + account.balance, held=F("held") + account.held
        )
        account.delete()

    for team in Team.objects.filter(wallet__isnull=True):
        CreditAccount.objects.create(team=team)

    # The invariant, checked before the old column goes.
    for wallet in CreditAccount.objects.all():
        sums = LedgerEntry.objects.filter(account=wallet).aggregate(
            balance=Sum("amount"), held=Sum("held_change")
        )
        open_held = CreditHold.objects.filter(account=wallet, state="open").aggregate(
            held=Sum("amount")
        )["held"]
        balance, held = (round(sums[k] or 0, 2) for k in ("balance", "held"))
        if balance != wallet.balance or held != wallet.held or round(open_held or 0, 2) != held:
            raise RuntimeError(
                f"wallet {wallet.pk} of team {wallet.team_id} does not add up: "
                f"balance {wallet.balance} vs entries {balance}, held {wallet.held} vs "
                f"entries {held} and open holds {open_held}"
            )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_team_wallet_fields"),
        # The generations table with its task ids and keys; nothing later of it is read.
        ("playground", "0001_generations"),
    ]

    operations = [migrations.RunPython(to_team_wallets, migrations.RunPython.noop)]
