"""manage.py webhook-secret USERNAME [--rotate]"""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Profile


def run(*args) -> str:
    out = StringIO()
    call_command("webhook-secret", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def test_it_prints_the_users_secret_making_it_on_first_use(alice):
    printed = run("alice")
    assert printed.startswith("whsec_")
    assert printed == Profile.objects.get(user=alice).webhook_secret
    assert run("alice") == printed


def test_rotate_replaces_the_secret_and_prints_the_new_one(alice, bob):
    old = run("alice")
    bobs = run("bob")
    new = run("alice", "--rotate")
    assert new.startswith("whsec_") and new != old
    assert Profile.objects.get(user=alice).webhook_secret == new
    assert run("alice") == new
    assert run("bob") == bobs  # nobody else's changes


def test_an_unknown_user_is_an_error(db):
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        run("nobody")
