from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from accounts import apikeys
from accounts.management.commands import bootstrap
from accounts.models import ApiKey, LedgerEntry

User = get_user_model()


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def demo_file(tmp_path, monkeypatch):
    path = tmp_path / "demo.txt"
    monkeypatch.setattr(bootstrap, "DEMO_FILE", path)
    return path


def test_bootstrap_creates_admin_and_demo_once(db, demo_file):
    output = run("bootstrap")
    admin = User.objects.get(username="admin")
    demo = User.objects.get(username="demo")
    assert admin.is_superuser and admin.is_staff
    assert demo.profile.team.name == "Demo"
    assert demo.profile.team.wallet.balance == Decimal("1000.00")
    secret = output.split("demo API key:")[1].split()[0]
    assert apikeys.authenticate(secret).user == demo
    assert secret in demo_file.read_text()

    snapshot = (User.objects.count(), ApiKey.objects.count(), LedgerEntry.objects.count())
    assert "nothing to bootstrap" in run("bootstrap")
    assert (User.objects.count(), ApiKey.objects.count(), LedgerEntry.objects.count()) == snapshot


def test_createsuperuser_gets_a_team_of_their_own_with_its_wallet(db):
    call_command(
        "createsuperuser",
        username="root",
        email="r@example.com",
        interactive=False,
        stdout=StringIO(),
    )
    root = User.objects.get(username="root")
    assert root.profile.team.name == "root"
    assert root.profile.team.wallet.available() == Decimal("0.00")


def test_apikey_create_prints_the_key_as_the_last_line(alice):
    output = run("apikey", "create", "alice", "--name", "laptop")
    secret = output.strip().splitlines()[-1]
    key = apikeys.authenticate(secret)
    assert key.user == alice and key.name == "laptop"


def test_apikey_lists_and_revokes_a_key(alice):
    key, secret = apikeys.issue(alice, "old")
    assert f"{key.prefix}\told\tactive" in run("apikey", "list", "alice")
    assert "Revoked" in run("apikey", "revoke", key.prefix)
    assert apikeys.authenticate(secret) is None
    assert "revoked" in run("apikey", "list", "alice")
    assert "already revoked" in run("apikey", "revoke", key.prefix)


def test_apikey_refuses_unknown_user_and_prefix(db):
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        run("apikey", "create", "nobody")
    with pytest.raises(CommandError, match="No API key"):
        run("apikey", "revoke", "rg_missing")


def test_credits_grant_records_a_ledger_entry_and_refuses_a_negative_amount(alice):
    output = run("credits", "grant", "alice", "25.5", "--note", "bonus")
    assert "balance 525.50" in output
    entry = LedgerEntry.objects.filter(account__team__members__user=alice).first()
    assert (entry.kind, entry.amount, entry.note) == ("grant", Decimal("25.50"), "bonus")
    with pytest.raises(CommandError, match="Cannot grant"):
        run("credits", "grant", "alice", "-5")
