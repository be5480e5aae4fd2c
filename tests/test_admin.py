import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from accounts import apikeys
from accounts.models import ApiKey, LedgerEntry, Profile
from playground.models import Generation


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


def test_the_admin_says_reelgate(staff_client):
    page = staff_client.get("/admin/").content.decode()
    assert "<title>Teams, keys, credits and generations | Reelgate admin</title>" in page
    assert '<a href="/admin/">Reelgate admin</a>' in page
    assert '<link rel="stylesheet" href="/static/css/admin.css">' in page
    assert "Django administration" not in page


def test_the_add_user_form_asks_for_team_and_credits_first(staff_client):
    page = staff_client.get("/admin/auth/user/add/").content.decode()
    team, credits, username = (page.index(f'name="{n}"') for n in ("team", "credits", "username"))
    assert team < credits < username


def add_user(staff_client, username: str, **fields):
    return staff_client.post(
        "/admin/auth/user/add/",
        {
            "username": username,
            "usable_password": "true",
            "password1": "a long enough passphrase 42",
            "password2": "a long enough passphrase 42",
            **fields,
        },
        follow=True,
    )


def test_the_admin_adds_a_teammate_with_a_first_grant_through_the_ledger(staff_client, alice, team):
    wallet = team.wallet
    wallet.refresh_from_db()
    before = wallet.balance
    response = add_user(staff_client, "dave", team=team.pk, credits="120.50")
    assert "Granted 120.50 credits to Studio." in response.content.decode()
    dave = get_user_model().objects.get(username="dave")
    assert (dave.profile.team, dave.profile.role) == (team, Profile.MEMBER)
    entry = LedgerEntry.objects.get(account=wallet, note="first grant")
    assert (entry.kind, entry.amount, entry.actor) == ("grant", Decimal("120.50"), alice)
    wallet.refresh_from_db()
    assert wallet.balance == before + Decimal("120.50")
    # The change page that follows shows the team and role first too.
    page = response.content.decode()
    team_field = page.index('name="profile-0-team"')
    assert team_field < page.index('name="username"') < page.index("Permissions")
    assert page.index('name="profile-0-role"') < page.index('name="username"')


def test_a_user_added_without_team_or_credits_owns_a_team_of_their_own(staff_client):
    add_user(staff_client, "erin")
    erin = get_user_model().objects.get(username="erin")
    assert (erin.profile.team.name, erin.profile.role) == ("erin", Profile.OWNER)
    assert not LedgerEntry.objects.filter(account__team__members__user=erin).exists()


def test_the_generations_list_shows_few_narrow_columns(staff_client, alice):
    Generation.objects.create(
        owner=alice,
        team_id=alice.profile.team_id,
        model_id="kling/v2-1",
        input={"prompt": "A lighthouse in a storm, waves crashing over the rocks, cinematic"},
        state=Generation.GENERATING,
        progress=40,
        quoted_credits=Decimal("55.00"),
    )
    page = staff_client.get("/admin/playground/generation/").content.decode()
    headers = page.split("<thead>")[1].split("</thead>")[0].lower()
    shown = re.findall(r">([a-z ]+)</(?:a|span)>", headers)
    assert shown == ["generation", "model id", "owner", "state", "credits", "created"]
    task_id = Generation.objects.get().task_id
    assert (
        f'A lighthouse in a storm, waves crashing…<br><small class="task-id">{task_id}</small>'
        in page
    )
    assert "generating 40%" in page and "55.00 held" in page
