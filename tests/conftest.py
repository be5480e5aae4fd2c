"""Shared fixtures: three personas, as the rest of the suite expects them.

alice owns a team and has credits, bob is her teammate, carol is an outsider
in a team of her own.
"""

from decimal import Decimal

import pytest
from django.conf import settings as django_settings

from accounts import apikeys, ledger
from accounts.models import Team
from accounts.teams import create_member


def pytest_configure(config):
    # Password hashing is deliberately slow; tests create many users.
    django_settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def team(db):
    return Team.objects.create(name="Studio")


@pytest.fixture
def alice(team):
    user = create_member("alice", team, password="alice-password", email="alice@example.com")
    ledger.grant(user.credit_account, Decimal("500.00"), note="test credits")
    return user


@pytest.fixture
def bob(team):
    return create_member("bob", team, password="bob-password")


@pytest.fixture
def carol(db):
    user = create_member("carol", Team.objects.create(name="Elsewhere"), password="carol-password")
    ledger.grant(user.credit_account, Decimal("500.00"), note="test credits")
    return user


@pytest.fixture
def alice_key(alice):
    """alice's API key as the raw secret a client sends."""
    _, secret = apikeys.issue(alice, "test key")
    return secret
