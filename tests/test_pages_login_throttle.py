"""Sign-ins are throttled per account and per client address, on the login page
and the admin's.

Each test signs in as a user and from addresses of its own: the counters
live in the cache for the window, shared by the whole run on Redis.
"""

import secrets

import pytest
from django.test import Client

from accounts.teams import create_member
from tests.processes import wait_for

PASSWORD = "correct horse battery staple"
LOCKED = "Too many failed sign-ins for this account or from your network."


def new_address() -> str:
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


@pytest.fixture
def dana(team):
    return create_member(f"dana-{secrets.token_hex(4)}", team, password=PASSWORD)


@pytest.fixture
def limits(settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    settings.LOGIN_FAILURES_PER_ADDRESS = 5
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 600
    return settings


def sign_in(username: str, password: str, address: str, path: str = "/login/"):
    return Client(REMOTE_ADDR=address).post(path, {"username": username, "password": password})


def test_it_locks_an_account_after_too_many_failed_sign_ins(limits, dana):
    for _ in range(3):
        wrong = sign_in(dana.username, "guess", new_address())
        assert wrong.status_code == 200
        assert "Please enter a correct username and password" in wrong.content.decode()

    # Even the right password, from yet another address, waits for the window.
    locked = sign_in(dana.username, PASSWORD, new_address())
    assert locked.status_code == 429
    assert 1 <= int(locked["Retry-After"]) <= 600
    assert LOCKED in locked.content.decode()
    assert "Try again in" in locked.content.decode()
    assert "_auth_user_id" not in locked.wsgi_request.session


def test_it_locks_an_address_after_failures_across_accounts(limits, dana):
    address = new_address()
    for n in range(5):
        assert sign_in(f"nobody-{n}-{secrets.token_hex(3)}", "guess", address).status_code == 200
    assert sign_in(dana.username, PASSWORD, address).status_code == 429
    # dana herself, from elsewhere, is not locked out.
    assert sign_in(dana.username, PASSWORD, new_address()).status_code == 302


def test_an_unknown_username_is_answered_like_a_known_one(limits, dana):
    unknown = f"ghost-{secrets.token_hex(4)}"
    answers = [
        [sign_in(name, "guess", new_address()).status_code for _ in range(4)]
        for name in (dana.username, unknown)
    ]
    assert answers == [[200, 200, 200, 429], [200, 200, 200, 429]]


def test_a_successful_sign_in_starts_the_account_count_again(limits, dana):
    for _ in range(2):
        sign_in(dana.username, "guess", new_address())
    assert sign_in(dana.username, PASSWORD, new_address()).status_code == 302
    for _ in range(2):
        sign_in(dana.username, "guess", new_address())
    assert sign_in(dana.username, PASSWORD, new_address()).status_code == 302


def test_the_lock_ends_with_its_window(limits, dana):
    limits.LOGIN_FAILURE_WINDOW_SECONDS = 2
    # A fixed window: failures straddling its edge count in two windows, so
    # guess until refused (within twice the limit), then wait it out.
    answers = []
    while 429 not in answers:
        answers.append(sign_in(dana.username, "guess", new_address()).status_code)
        assert len(answers) <= 7
    wait_for(
        lambda: sign_in(dana.username, PASSWORD, new_address()).status_code == 302,
        timeout=4,
        interval=0.2,
    )


def test_the_admin_sign_in_is_throttled_too(limits, dana):
    dana.is_staff = True
    dana.save()
    for _ in range(3):
        assert sign_in(dana.username, "guess", new_address(), "/admin/login/").status_code == 200
    locked = sign_in(dana.username, PASSWORD, new_address(), "/admin/login/")
    assert LOCKED in locked.content.decode()
    assert "_auth_user_id" not in locked.wsgi_request.session


def test_it_counts_the_address_the_trusted_proxy_saw(limits, dana):
    proxy = new_address()

    def through_proxy(client_address: str):
        return Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=f"6.6.6.6, {client_address}").post(
            "/login/", {"username": f"nobody-{secrets.token_hex(3)}", "password": "guess"}
        )

    # Without TRUSTED_PROXY_COUNT every client behind the proxy is the proxy.
    limits.TRUSTED_PROXY_COUNT = 0
    assert [through_proxy(new_address()).status_code for _ in range(6)][-1] == 429

    # With it, the address the proxy appended; what the client put first is ignored.
    limits.TRUSTED_PROXY_COUNT = 1
    client_address = new_address()
    assert [through_proxy(client_address).status_code for _ in range(6)][-1] == 429
    assert through_proxy(new_address()).status_code == 200
