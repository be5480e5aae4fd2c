"""The team audit log: every change to members, roles, invitations and keys
writes an entry; owners and admins read them newest first on /team/audit/,
staff read-only in the admin."""

import pytest
from django.core.management import call_command

from accounts import apikeys, audit, membership
from accounts.models import AuditEntry, Profile
from accounts.teams import create_member
from tests.test_team_roles import HTMX


def changes():
    """The log without the fixtures' grants of test credits, which it records too."""
    return AuditEntry.objects.exclude(action=AuditEntry.CREDITS_GRANTED, actor=None)


def actions(team_name: str = "Studio") -> list[str]:
    return list(
        changes().filter(team__name=team_name).order_by("id").values_list("action", flat=True)
    )


def test_record_writes_who_did_what_to_whom_before_and_after(alice):
    entry = audit.record(
        alice.profile.team,
        alice,
        "wallet.topped_up",
        "the team wallet",
        {"balance": "10.00"},
        {"balance": "25.00"},
    )
    entry.refresh_from_db()
    assert (entry.team, entry.actor, entry.actor_name, entry.action, entry.target) == (
        alice.profile.team,
        alice,
        "alice",
        "wallet.topped_up",
        "the team wallet",
    )
    assert (entry.before, entry.after) == ({"balance": "10.00"}, {"balance": "25.00"})
    # A team id will do, and no actor means the system.
    system = audit.record(alice.profile.team_id, None, "budget.reset", "June budget")
    assert (system.actor, system.actor_name, system.before, system.after) == (None, "", None, None)
    # Names other code records read as they are; known ones get their label.
    assert entry.action_label() == "wallet.topped_up"
    assert AuditEntry(action=AuditEntry.KEY_REVOKED).action_label() == "API key revoked"


def test_every_change_through_the_pages_is_recorded(client, alice, bob):
    client.force_login(alice)
    response = client.post("/team/invitations/", {"email": "new@example.com", "role": "member"})
    invitation_id = response.context["new_invitation"].invitation.pk
    client.post(f"/team/invitations/{invitation_id}/revoke/")
    client.post(f"/team/members/{bob.profile.pk}/role/", {"role": "admin"})
    client.post("/account/keys/", {"name": "laptop"})
    own_key = alice.api_keys.get()
    client.post(f"/account/keys/{own_key.prefix}/revoke/")
    bob_key, _ = membership.create_key(bob, "bob's key")
    client.post(f"/team/keys/{bob_key.prefix}/revoke/")
    client.post(f"/team/members/{bob.profile.pk}/remove/")

    assert actions() == [
        AuditEntry.INVITATION_CREATED,
        AuditEntry.INVITATION_REVOKED,
        AuditEntry.ROLE_CHANGED,
        AuditEntry.KEY_CREATED,
        AuditEntry.KEY_REVOKED,
        AuditEntry.KEY_CREATED,  # bob's, by bob
        AuditEntry.KEY_REVOKED,
        AuditEntry.MEMBER_REMOVED,
    ]
    actors = list(changes().order_by("id").values_list("actor_name", flat=True))
    assert actors == ["alice"] * 5 + ["bob", "alice", "alice"]


def test_a_refused_change_records_nothing(alice):
    with pytest.raises(membership.LastOwner):
        membership.change_role(alice, alice.profile, Profile.MEMBER)
    assert actions() == []


def test_owners_and_admins_read_the_log_newest_first_in_pages(client, alice):
    for n in range(1, 61):
        audit.record(
            alice.profile.team,
            alice,
            AuditEntry.ROLE_CHANGED,
            f"member {n:02d}",
            {"role": "member"},
            {"role": "admin"},
        )
    admin = create_member("erin", alice.profile.team, password="erin-password", role=Profile.ADMIN)
    client.force_login(admin)
    first = client.get("/team/audit/").content.decode()
    assert first.index("member 60") < first.index("member 59")
    assert "member 11" in first and "member 10" not in first
    assert "role: member → admin" in first and "Role changed" in first
    older = first.split('href="?after=')[1].split('"')[0]
    second = client.get(f"/team/audit/?after={older}", HTTP_HX_TARGET="audit-entries", **HTMX)
    content = second.content.decode()
    assert content.lstrip().startswith('<div id="audit-entries">')
    assert "member 10" in content and "member 01" in content and "member 11" not in content
    newer = content.split('href="?before=')[1].split('"')[0]
    back = client.get(f"/team/audit/?before={newer}").content.decode()
    assert "member 60" in back and "member 11" in back


def test_a_member_cannot_read_the_log_and_an_outsider_reads_only_their_own(
    client, alice, bob, carol
):
    audit.record(alice.profile.team, alice, AuditEntry.ROLE_CHANGED, "studio secret change")
    client.force_login(bob)
    assert client.get("/team/audit/").status_code == 403
    client.force_login(carol)
    content = client.get("/team/audit/").content.decode()
    assert "studio secret change" not in content and "Credits granted" in content


def test_signed_out_the_log_asks_to_log_in(client, alice):
    response = client.get("/team/audit/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_malformed_cursor_gives_the_first_page(client, alice):
    audit.record(alice.profile.team, alice, AuditEntry.ROLE_CHANGED, "the only change")
    client.force_login(alice)
    for cursor in ("?after=%00", "?before=not-a-cursor", "?after=" + "A" * 500):
        response = client.get("/team/audit/" + cursor)
        assert response.status_code == 200 and "the only change" in response.content.decode()


@pytest.fixture
def staff_client(client, alice):
    alice.is_staff = alice.is_superuser = True
    alice.save()
    client.force_login(alice)
    return client


def test_the_admin_shows_the_log_and_invitations_read_only(staff_client, alice):
    entry = audit.record(
        alice.profile.team,
        alice,
        AuditEntry.ROLE_CHANGED,
        "bob",
        {"role": "member"},
        {"role": "admin"},
    )
    new = membership.invite(alice, "guest@example.com", "member", base_url="http://testserver")
    for url in ("/admin/accounts/auditentry/", "/admin/accounts/invitation/"):
        listing = staff_client.get(url)
        assert listing.status_code == 200, url
        assert f"{url}add/" not in listing.content.decode()
    page = staff_client.get(f"/admin/accounts/auditentry/{entry.pk}/change/")
    assert page.status_code == 200
    assert 'name="target"' not in page.content.decode() and "_save" not in page.content.decode()
    assert staff_client.get("/admin/accounts/auditentry/add/").status_code == 403
    staff_client.post(f"/admin/accounts/auditentry/{entry.pk}/change/", {"target": "forged"})
    staff_client.post(f"/admin/accounts/auditentry/{entry.pk}/delete/", {"post": "yes"})
    entry.refresh_from_db()
    assert entry.target == "bob"
    invitation_page = staff_client.get(
        f"/admin/accounts/invitation/{new.invitation.pk}/change/"
    ).content.decode()
    assert new.invitation.token_digest not in invitation_page


def test_the_admins_key_and_role_changes_are_recorded(staff_client, alice, bob):
    key, secret = apikeys.issue(bob, "bob's key")
    staff_client.post(
        "/admin/accounts/apikey/", {"action": "revoke_keys", "_selected_action": [key.pk]}
    )
    assert apikeys.authenticate(secret) is None
    staff_client.post("/admin/accounts/apikey/add/", {"user": bob.pk, "name": "from admin"})
    profile = bob.profile
    form = {
        "username": "bob",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "is_active": "on",
        "profile-TOTAL_FORMS": "1",
        "profile-INITIAL_FORMS": "1",
        "profile-MIN_NUM_FORMS": "0",
        "profile-MAX_NUM_FORMS": "1",
        "profile-0-id": str(profile.pk),
        "profile-0-user": str(bob.pk),
        "profile-0-team": str(profile.team_id),
        "profile-0-role": "admin",
    }
    response = staff_client.post(f"/admin/auth/user/{bob.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Profile.objects.get(user=bob).role == Profile.ADMIN
    entries = list(changes().order_by("id").values_list("action", "actor_name", "before", "after"))
    assert entries == [
        (AuditEntry.KEY_REVOKED, "alice", {"active": True}, {"active": False}),
        (AuditEntry.KEY_CREATED, "alice", None, entries[1][3]),
        (AuditEntry.ROLE_CHANGED, "alice", {"role": "member"}, {"role": "admin"}),
    ]
    assert entries[1][3]["name"] == "from admin"


def test_the_apikey_commands_changes_are_recorded_as_the_systems(bob, capsys):
    call_command("apikey", "create", "bob", "--name", "from the shell")
    key = bob.api_keys.get()
    call_command("apikey", "revoke", key.prefix)
    entries = list(
        changes()
        .filter(team=bob.profile.team)
        .order_by("id")
        .values_list("action", "actor", "actor_name", "target")
    )
    described = f"key {key.prefix}… (from the shell) of bob"
    assert entries == [
        (AuditEntry.KEY_CREATED, None, "", described),
        (AuditEntry.KEY_REVOKED, None, "", described),
    ]
