"""One wallet per team: every member's generations hold and are charged from it,
and every entry names the member and the key that caused it."""

from decimal import Decimal

from django.core.management import call_command

from accounts import apikeys, ledger
from accounts.models import CreditAccount, LedgerEntry, Team
from accounts.teams import create_member, move_to_team, wallet_of
from playground import services

PROMPT = "A lighthouse in a storm, waves crashing, cinematic"


def submit(user, api_key=None):
    return services.submit(user=user, api_key=api_key, model="kling/v2-1", input={"prompt": PROMPT})


def test_teammates_spend_from_one_wallet(alice, bob):
    assert wallet_of(bob) == wallet_of(alice)
    submit(bob)  # bob was never granted anything: the team was
    wallet = ledger.current(wallet_of(alice))
    assert (wallet.balance, wallet.held) == (Decimal("500.00"), Decimal("55.00"))


def test_each_entry_names_the_member_and_the_key_that_caused_it(alice, bob):
    key, _ = apikeys.issue(bob, "bob's script")
    by_key = submit(bob, key)
    by_page = submit(alice)
    ledger.capture(by_key.hold_reference)
    ledger.release(by_page.hold_reference)
    entries = LedgerEntry.objects.exclude(kind=LedgerEntry.GRANT)
    assert sorted((e.kind, e.member.username, e.api_key_id) for e in entries) == [
        ("capture", "bob", key.pk),
        ("hold", "alice", None),
        ("hold", "bob", key.pk),
        ("release", "alice", None),
    ]
    assert ledger.totals_from_entries(wallet_of(alice)) == (Decimal("445.00"), Decimal("0.00"))


def test_a_new_team_gets_an_empty_wallet(db):
    team = Team.objects.create(name="Fresh")
    assert (team.wallet.balance, team.wallet.held) == (Decimal("0.00"), Decimal("0.00"))


def test_credits_grant_takes_a_team_or_a_member_meaning_their_team(alice, bob, carol, capsys):
    call_command("credits", "grant", "Studio", "10")
    call_command("credits", "grant", "bob", "2.5")
    assert "Granted 2.50 credits to team Studio; balance 512.50" in capsys.readouterr().out
    assert ledger.current(wallet_of(carol)).balance == Decimal("500.00")


def test_a_team_left_empty_keeps_its_wallet_while_it_has_history(alice, carol):
    elsewhere = carol.profile.team
    move_to_team(carol.profile, alice.profile.team)
    # Carol's old team was granted credits: its wallet's history stays on record.
    assert CreditAccount.objects.get(team=elsewhere).balance == Decimal("500.00")
    dan = create_member("dan", Team.objects.create(name="Passing"), password="dan-password")
    passing = dan.profile.team
    move_to_team(dan.profile, alice.profile.team)
    assert not Team.objects.filter(pk=passing.pk).exists()
