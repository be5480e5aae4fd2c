from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from accounts import apikeys
from accounts.models import ApiKey, LedgerEntry


@pytest.fixture
def staff_client(client, alice):
    alice.is_staff = alice.is_superuser = True
    alice.save()
    client.force_login(alice)
    return client


def test_admin_opens_every_page_for_staff(staff_client, bob):
    for url in [
        "/admin/",
        "/admin/auth/user/",
        f"/admin/auth/user/{bob.pk}/change/",
        "/admin/auth/user/add/",
        "/admin/accounts/team/",
        "/admin/accounts/apikey/",
        "/admin/accounts/apikey/add/",
        "/admin/accounts/creditaccount/",
        f"/admin/accounts/creditaccount/{bob.profile.team.wallet.pk}/change/",
        "/admin/accounts/ledgerentry/",
        "/admin/accounts/credithold/",
    ]:
        assert staff_client.get(url).status_code == 200, url


def test_admin_creates_a_key_and_shows_the_secret_once(staff_client, bob):
    response = staff_client.post(
        "/admin/accounts/apikey/add/", {"user": bob.pk, "name": "from admin"}, follow=True
    )
    message = next(str(m) for m in response.context["messages"])
    secret = message.split("The new key is ")[1].split()[0]
    key = ApiKey.objects.get(name="from admin")
    assert apikeys.authenticate(secret) == key
    again = staff_client.get(f"/admin/accounts/apikey/{key.pk}/change/")
    assert secret not in again.content.decode()


def test_admin_revokes_keys(staff_client, bob):
    key, secret = apikeys.issue(bob)
    staff_client.post(
        "/admin/accounts/apikey/", {"action": "revoke_keys", "_selected_action": [key.pk]}
    )
    assert apikeys.authenticate(secret) is None


@pytest.mark.parametrize("listing", ["team", "creditaccount"])
def test_admin_grants_credits_to_a_teams_wallet_through_the_ledger(
    staff_client, alice, carol, listing
):
    wallet = carol.profile.team.wallet
    selected = wallet.team_id if listing == "team" else wallet.pk
    form = staff_client.post(
        f"/admin/accounts/{listing}/",
        {"action": "grant_credits", "_selected_action": [selected]},
    )
    assert b"Grant credits" in form.content and b"Elsewhere" in form.content
    staff_client.post(
        f"/admin/accounts/{listing}/",
        {
            "action": "grant_credits",
            "_selected_action": [selected],
            "apply": "1",
            "amount": "42.50",
            "note": "welcome",
        },
    )
    wallet.refresh_from_db()
    assert wallet.balance == Decimal("542.50")
    entry = LedgerEntry.objects.filter(account=wallet).first()
    assert (entry.kind, entry.amount, entry.actor, entry.note) == (
        "grant",
        Decimal("42.50"),
        alice,
        "welcome",
    )


def test_admin_never_offers_to_edit_a_balance(staff_client, bob):
    page = staff_client.get(f"/admin/accounts/creditaccount/{bob.profile.team.wallet.pk}/change/")
    assert b'name="balance"' not in page.content
    assert b'name="held"' not in page.content


def test_admin_is_closed_to_non_staff(client, bob):
    client.force_login(bob)
    assert client.get("/admin/accounts/creditaccount/").status_code == 302
    assert get_user_model().objects.filter(is_staff=True).count() == 0
