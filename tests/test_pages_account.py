"""The account page: credits, the ledger history, API keys, the callbacks section."""

from decimal import Decimal

import pytest

from accounts import apikeys, ledger
from accounts.models import ApiKey

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def test_it_shows_balance_held_and_available(signed_in, alice):
    ledger.hold(alice.profile.team.wallet, Decimal("55.00"), "generation:gen_abc")
    content = signed_in.get("/account/").content.decode()
    assert '<dd id="balance">500.00</dd>' in content
    assert '<dd id="held">55.00</dd>' in content
    assert '<dd id="available">445.00</dd>' in content
    assert '<a href="/generations/gen_abc/">gen_abc</a>' in content
    assert "test credits" in content


def test_it_pages_through_the_ledger_without_gaps(signed_in, alice):
    for number in range(1, 31):
        ledger.grant(alice.profile.team.wallet, Decimal("1.00"), note=f"top-up {number:02d}")
    first = signed_in.get("/account/").content.decode()
    assert "top-up 30" in first and "top-up 06" in first and "top-up 05" not in first
    older = first.split('href="?after=')[1].split("#")[0]
    second = signed_in.get(f"/account/?after={older}", HTTP_HX_TARGET="ledger", **HTMX)
    content = second.content.decode()
    assert content.lstrip().startswith('<div id="ledger">')
    assert "top-up 05" in content and "top-up 01" in content and "test credits" in content
    assert "top-up 06" not in content


def test_it_creates_a_key_and_shows_the_secret_once(signed_in, alice):
    response = signed_in.post("/account/keys/", {"name": "laptop"}, **HTMX)
    content = response.content.decode()
    assert content.lstrip().startswith('<section id="api-keys"')
    secret = content.split('<code id="new-key-secret" class="secret">')[1].split("</code>")[0]
    assert secret.startswith("rg_")
    assert apikeys.authenticate(secret).user == alice
    assert "laptop" in content
    assert secret not in signed_in.get("/account/").content.decode()


def test_it_creates_a_key_without_js_too(signed_in):
    response = signed_in.post("/account/keys/", {"name": "ci"})
    content = response.content.decode()
    assert response.status_code == 200
    assert '<code id="new-key-secret" class="secret">rg_' in content
    assert '<dd id="balance">' in content


def test_it_revokes_a_key(signed_in, alice):
    key, secret = apikeys.issue(alice, "old")
    response = signed_in.post(f"/account/keys/{key.prefix}/revoke/", **HTMX)
    assert "revoked" in response.content.decode()
    assert apikeys.authenticate(secret) is None
    without_js = signed_in.post(f"/account/keys/{key.prefix}/revoke/")
    assert without_js["Location"] == "/account/#api-keys"


def test_it_lists_only_the_users_own_keys(client, alice, bob):
    alice_key, _ = apikeys.issue(alice, "alice's key")
    apikeys.issue(bob, "bob's key")
    client.force_login(bob)
    content = client.get("/account/").content.decode()
    assert "bob&#x27;s key" in content
    assert alice_key.prefix not in content
    assert client.post(f"/account/keys/{alice_key.prefix}/revoke/").status_code == 404
    assert ApiKey.objects.get(pk=alice_key.pk).is_active


def test_it_shows_last_use(signed_in, alice):
    key, secret = apikeys.issue(alice, "used")
    apikeys.authenticate(secret)
    content = signed_in.get("/account/").content.decode()
    row = content.split(f'data-prefix="{key.prefix}"')[1].split("</tr>")[0]
    assert "ago</time>" in row


def test_it_shows_the_webhooks_panel(signed_in):
    content = signed_in.get("/account/").content.decode()
    section = content.split('<section id="webhooks"')[1]
    assert "Webhooks" in section
    assert "No deliveries yet." in section
