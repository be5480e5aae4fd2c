from accounts import apikeys
from accounts.models import ApiKey


def test_it_shows_the_secret_once_and_stores_only_its_digest(alice):
    key, secret = apikeys.issue(alice, "ci")
    assert secret.startswith("rg_") and len(secret) > 40
    row = ApiKey.objects.get(pk=key.pk)
    stored = " ".join(str(value) for value in row.__dict__.values())
    assert secret not in stored
    assert row.prefix == secret[: apikeys.PREFIX_LENGTH]
    assert row.secret_hash == apikeys.digest(secret)


def test_it_authenticates_a_valid_key(alice):
    key, secret = apikeys.issue(alice)
    found = apikeys.authenticate(secret)
    assert found == key
    assert found.user == alice
    assert ApiKey.objects.get(pk=key.pk).last_used_at is not None


def test_it_rejects_unknown_and_wrong_keys(alice):
    _, secret = apikeys.issue(alice)
    assert apikeys.authenticate("") is None
    assert apikeys.authenticate("rg_nope") is None
    assert apikeys.authenticate("sk-" + secret[3:]) is None
    # right prefix, wrong rest
    assert apikeys.authenticate(secret[:-4] + "AAAA") is None


def test_it_rejects_a_revoked_key(alice):
    key, secret = apikeys.issue(alice)
    assert apikeys.revoke(key) is True
    assert apikeys.revoke(key) is False
    assert apikeys.authenticate(secret) is None


def test_it_rejects_the_key_of_a_deactivated_user(alice):
    _, secret = apikeys.issue(alice)
    alice.is_active = False
    alice.save()
    assert apikeys.authenticate(secret) is None
