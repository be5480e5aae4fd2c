"""Requests with a wrong API key are counted per client address: past
API_BAD_KEYS_PER_ADDRESS in the window they are answered 429 with Retry-After,
in each contract's own envelope.

Each test sends from addresses of its own: the counters live in the cache
for the window, shared by the whole run on Redis.
"""

import secrets

import pytest

from accounts import apikeys

WRONG = "rg_" + "x" * 43


def new_address() -> str:
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


def kie(response) -> str:
    body = response.json()
    assert (body["code"], body["data"]) == (429, None)
    return body["msg"]


def openai(response) -> str:
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
    return error["message"]


def replicate(response) -> str:
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert (body["status"], body["title"]) == (429, "Too many requests")
    return body["detail"]


ROUTES = [
    ("/api/v1/jobs/recordInfo?taskId=x", kie),
    ("/api/v1/chat/credit", kie),
    ("/v1/videos/video_x", openai),
    ("/v1/predictions/x", replicate),
]


@pytest.fixture
def limit(settings):
    settings.API_BAD_KEYS_PER_ADDRESS = 3
    settings.API_BAD_KEY_WINDOW_SECONDS = 300
    return settings


def get(client, path: str, address: str, key: str | None = WRONG):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    return client.get(path, REMOTE_ADDR=address, **headers)


@pytest.mark.parametrize(("path", "envelope"), ROUTES, ids=[p for p, _ in ROUTES])
def test_bad_keys_past_the_limit_are_a_429_in_the_contracts_envelope(
    client, db, limit, path, envelope
):
    address = new_address()
    assert [get(client, path, address).status_code for _ in range(3)] == [401, 401, 401]
    refused = get(client, path, address)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 300
    message = envelope(refused)
    assert "Too many requests with an invalid API key from your address" in message
    assert f"retry in {refused['Retry-After']} s" in message


def test_every_contract_counts_against_one_budget(client, db, limit):
    address = new_address()
    codes = [get(client, path, address).status_code for path, _ in ROUTES]
    assert codes == [401, 401, 401, 429]


def test_a_valid_key_is_served_from_an_address_over_the_limit(client, alice_key, limit):
    address = new_address()
    for _ in range(4):
        get(client, "/api/v1/chat/credit", address)
    assert get(client, "/api/v1/chat/credit", address).status_code == 429
    assert get(client, "/api/v1/chat/credit", address, alice_key).status_code == 200


def test_other_addresses_and_keyless_requests_are_not_counted(client, db, limit):
    address = new_address()
    for _ in range(5):
        assert get(client, "/api/v1/chat/credit", address, key=None).status_code == 401
    assert get(client, "/api/v1/chat/credit", address).status_code == 401
    for _ in range(3):
        get(client, "/api/v1/chat/credit", address)
    assert get(client, "/api/v1/chat/credit", address).status_code == 429
    assert get(client, "/api/v1/chat/credit", new_address()).status_code == 401


def test_a_revoked_key_counts_as_a_bad_one(client, alice, limit):
    key, secret = apikeys.issue(alice, "old")
    apikeys.revoke(key)
    address = new_address()
    codes = [get(client, "/api/v1/chat/credit", address, secret).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
