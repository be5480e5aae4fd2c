"""The budgets page: owners and admins set every budget, members their keys'; owners grant."""

from decimal import Decimal

import pytest

from accounts import apikeys, budgets, ledger
from accounts.models import AuditEntry, Budget, Profile
from playground import services

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_an_owner_sets_a_members_budget_and_sees_its_use(client, alice, bob):
    client.force_login(alice)
    response = client.post(
        f"/team/budgets/members/{bob.profile.pk}/", {"limit": "120", "period": "week"}, **HTMX
    )
    content = response.content.decode()
    assert "Saved: member bob: 120.00 a week." in content
    services.submit(user=bob, model="kling/v2-1", input={"prompt": "A fox"})
    page = client.get("/team/budgets/").content.decode()
    row = page.split('data-member="bob"')[1].split("</tr>")[0]
    assert "120.00 a week" in row and ">55.00<" in row and ">65.00<" in row
    entry = AuditEntry.objects.get(action=AuditEntry.BUDGET_SET)
    assert (entry.actor, entry.before, entry.after) == (
        alice,
        None,
        {"limit": "120.00", "period": "week"},
    )


def test_a_member_sets_their_own_keys_budget_but_not_their_own(client, alice, bob):
    key, _ = apikeys.issue(bob, "bob's script")
    client.force_login(bob)
    page = client.get("/team/budgets/").content.decode()
    assert 'data-member="alice"' not in page and 'data-member="bob"' in page
    assert f'data-prefix="{key.prefix}"' in page and "Add credits" not in page
    answer = client.post(f"/team/budgets/keys/{key.prefix}/", {"limit": "10", "period": "day"})
    assert answer.status_code == 302
    assert Budget.objects.get(api_key=key).limit == Decimal("10.00")
    own = client.post(
        f"/team/budgets/members/{bob.profile.pk}/", {"limit": "9999", "period": "day"}
    )
    assert own.status_code == 403
    alices_key, _ = apikeys.issue(alice, "alice's")
    other = client.post(f"/team/budgets/keys/{alices_key.prefix}/", {"limit": "1", "period": "day"})
    assert other.status_code == 403
    assert not Budget.objects.filter(member=bob).exists()


def test_a_member_cannot_remove_a_budget_set_on_them(client, alice, bob):
    budget = budgets.set_budget(bob.profile.team, member=bob, limit="5", period="day", actor=alice)
    client.force_login(bob)
    assert client.post(f"/team/budgets/{budget.pk}/remove/").status_code == 403
    client.force_login(alice)
    assert client.post(f"/team/budgets/{budget.pk}/remove/", **HTMX).status_code == 200
    assert not Budget.objects.exists()
    assert AuditEntry.objects.filter(action=AuditEntry.BUDGET_REMOVED).count() == 1


def test_another_teams_budgets_and_keys_are_404(client, alice, carol):
    key, _ = apikeys.issue(alice, "alice's")
    budget = budgets.set_budget(alice.profile.team, api_key=key, limit="5", period="day")
    client.force_login(carol)
    data = {"limit": "1", "period": "day"}
    assert client.post(f"/team/budgets/keys/{key.prefix}/", data).status_code == 404
    assert client.post(f"/team/budgets/members/{alice.profile.pk}/", data).status_code == 404
    assert client.post(f"/team/budgets/{budget.pk}/remove/").status_code == 404


@pytest.mark.parametrize(
    "data", [{"limit": "-1", "period": "day"}, {"limit": "5", "period": "year"}]
)
def test_a_bad_budget_is_refused_with_a_reason(client, alice, bob, data):
    client.force_login(alice)
    response = client.post(f"/team/budgets/members/{bob.profile.pk}/", data, **HTMX)
    assert "The budget was not saved:" in response.content.decode()
    assert not Budget.objects.exists()


def test_only_owners_grant_credits_and_the_grant_is_audited(client, alice, bob):
    Profile.objects.filter(user=bob).update(role=Profile.ADMIN)
    client.force_login(bob)
    assert client.post("/team/credits/", {"amount": "50"}).status_code == 403
    client.force_login(alice)
    response = client.post("/team/credits/", {"amount": "50", "note": "invoice 42"}, **HTMX)
    assert "Granted 50.00 credits" in response.content.decode()
    assert ledger.current(alice.profile.team.wallet).balance == Decimal("550.00")
    entry = AuditEntry.objects.get(action=AuditEntry.CREDITS_GRANTED, actor=alice)
    assert entry.after == {"credits": "50.00", "note": "invoice 42"}
    refused = client.post("/team/credits/", {"amount": "0"}, **HTMX)
    assert "Nothing was granted" in refused.content.decode()
