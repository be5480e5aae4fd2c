"""Roles in a team (owner, admin, member), the team page's member actions, and
the rule that a team always keeps an owner, also when two owners race."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor

from accounts import apikeys, keycache, membership
from accounts.models import ApiKey, AuditEntry, Profile, Team
from accounts.teams import create_member
from playground import services

HTMX = {"HTTP_HX_REQUEST": "true"}
BEFORE = [("accounts", "0008_budgets")]
AFTER = [("accounts", "0009_roles_invitations_audit")]


def role_of(user) -> str:
    return Profile.objects.get(user=user).role


@pytest.fixture
def dave(team, alice):
    """A second owner of alice's team."""
    return create_member("dave", team, password="dave-password", role=Profile.OWNER)


@pytest.fixture
def erin(team, alice):
    """An admin of alice's team."""
    return create_member("erin", team, password="erin-password", role=Profile.ADMIN)


def test_it_makes_the_first_member_of_a_team_its_owner_and_later_ones_members(db):
    team = Team.objects.create(name="Fresh")
    first = create_member("first", team, password="first-password")
    second = create_member("second", team, password="second-password")
    assert (role_of(first), role_of(second)) == (Profile.OWNER, Profile.MEMBER)
    assert first.profile.can_manage() and first.profile.is_owner()
    assert not second.profile.can_manage() and not second.profile.is_owner()
    # A user made without a team (createsuperuser, the admin) owns one of their own.
    loner = get_user_model().objects.create_user("loner", password="loner-password")
    assert role_of(loner) == Profile.OWNER and loner.profile.team.name == "loner"


def test_an_admin_manages_but_never_makes_or_changes_an_owner(alice, bob, erin):
    admin, owner, member = erin.profile, alice.profile, bob.profile
    assert admin.can_manage() and not admin.is_owner()
    assert admin.may_give(Profile.ADMIN) and not admin.may_give(Profile.OWNER)
    assert admin.may_change(member) and not admin.may_change(owner)
    assert owner.may_give(Profile.OWNER) and owner.may_change(admin)
    assert not member.may_give(Profile.MEMBER) and not member.may_change(member)


# -- the page ----------------------------------------------------------------------


def test_the_header_links_the_team_page(client, bob):
    client.force_login(bob)
    content = client.get("/").content.decode()
    assert '<a href="/team/">Team</a>' in content
    assert '<a href="/team/" aria-current="page">Team</a>' in client.get("/team/").content.decode()


def test_a_member_sees_the_members_read_only_and_only_their_own_keys(client, alice, bob):
    alice_key, _ = apikeys.issue(alice, "alice's key")
    bob_key, _ = apikeys.issue(bob, "bob's key")
    client.force_login(bob)
    content = client.get("/team/").content.decode()
    assert 'data-member="alice"' in content and 'data-member="bob"' in content
    assert '<span class="role role-owner">Owner</span>' in content
    assert "/role/" not in content and "/remove/" not in content
    assert "team-invite" not in content and 'id="invitations"' not in content
    assert bob_key.prefix in content and alice_key.prefix not in content
    assert "Audit log" not in content


def test_an_owner_sees_controls_and_every_key_of_the_team(client, alice, bob, carol):
    bob_key, _ = apikeys.issue(bob, "bob's key")
    carol_key, _ = apikeys.issue(carol, "carol's key")
    client.force_login(alice)
    content = client.get("/team/").content.decode()
    assert f'action="/team/members/{bob.profile.pk}/role/"' in content
    assert f'action="/team/members/{bob.profile.pk}/remove/"' in content
    # No control over oneself.
    assert f"/team/members/{alice.profile.pk}/" not in content
    assert bob_key.prefix in content and carol_key.prefix not in content
    assert 'href="/team/audit/"' in content


def manager_actions(world) -> list[tuple[str, dict]]:
    """Every POST a manager may make on the team page, on alice's team's objects."""
    return [
        ("/team/invitations/", {"email": "new@example.com", "role": "member"}),
        (f"/team/invitations/{world['invitation'].pk}/revoke/", {}),
        (f"/team/members/{world['member'].pk}/role/", {"role": "admin"}),
        (f"/team/members/{world['member'].pk}/remove/", {}),
        (f"/team/keys/{world['key'].prefix}/revoke/", {}),
    ]


@pytest.fixture
def world(alice, bob):
    invitation = membership.invite(
        alice, "guest@example.com", "member", base_url="http://testserver"
    ).invitation
    key, _ = apikeys.issue(bob, "bob's key")
    return {"invitation": invitation, "member": bob.profile, "key": key}


def assert_nothing_changed(world, bob) -> None:
    world["invitation"].refresh_from_db()
    assert world["invitation"].is_pending()
    assert role_of(bob) == Profile.MEMBER and bob.profile.team.name == "Studio"
    assert ApiKey.objects.get(pk=world["key"].pk).is_active
    assert not Profile.objects.filter(team__name="Studio", user__email="new@example.com").exists()


@pytest.mark.parametrize("index", range(5))
def test_a_member_posting_a_manager_action_gets_403(client, world, alice, bob, index):
    url, data = manager_actions(world)[index]
    client.force_login(bob)
    assert client.post(url, data).status_code == 403
    assert client.post(url, data, **HTMX).status_code == 403
    assert_nothing_changed(world, bob)


@pytest.mark.parametrize("index", range(1, 5))
def test_an_outsider_gets_404_for_another_teams_objects(client, world, bob, carol, index):
    url, data = manager_actions(world)[index]
    client.force_login(carol)  # owner of her own team
    assert client.post(url, data).status_code == 404
    assert_nothing_changed(world, bob)


@pytest.mark.parametrize("index", range(5))
def test_signed_out_visitors_are_sent_to_log_in(client, world, bob, index):
    url, data = manager_actions(world)[index]
    response = client.post(url, data)
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert_nothing_changed(world, bob)


@pytest.mark.parametrize(
    "url",
    [
        "/team/members/99999999/role/",
        "/team/members/99999999/remove/",
        "/team/invitations/99999999/revoke/",
        "/team/keys/rg_nothere/revoke/",
        "/team/keys/" + "x" * 300 + "/revoke/",
    ],
)
def test_unknown_objects_are_404(client, alice, url):
    client.force_login(alice)
    assert client.post(url, {"role": "member"}).status_code == 404


def test_the_team_pages_take_no_other_methods(client, alice):
    client.force_login(alice)
    assert client.post("/team/").status_code == 405
    assert client.get(f"/team/members/{alice.profile.pk}/role/").status_code == 405
    assert client.put("/team/audit/").status_code == 405


# -- changing roles --------------------------------------------------------------


def test_an_owner_makes_a_member_admin(client, alice, bob):
    client.force_login(alice)
    response = client.post(f"/team/members/{bob.profile.pk}/role/", {"role": "admin"}, **HTMX)
    content = response.content.decode()
    assert content.lstrip().startswith('<div id="team-body">')
    assert "bob is admin now." in content
    assert role_of(bob) == Profile.ADMIN
    entry = AuditEntry.objects.get(action=AuditEntry.ROLE_CHANGED)
    assert (entry.actor, entry.target, entry.before, entry.after) == (
        alice,
        "bob",
        {"role": "member"},
        {"role": "admin"},
    )


def test_without_js_a_role_change_redirects_with_a_message(client, alice, bob):
    client.force_login(alice)
    response = client.post(f"/team/members/{bob.profile.pk}/role/", {"role": "owner"}, follow=True)
    assert response.redirect_chain == [("/team/", 302)]
    assert "bob is owner now." in response.content.decode()
    assert role_of(bob) == Profile.OWNER


def give_role(client, user, role: str):
    return client.post(f"/team/members/{user.profile.pk}/role/", {"role": role})


def test_an_admin_cannot_raise_anyone_to_owner_nor_change_an_owner(client, alice, bob, erin):
    client.force_login(erin)
    assert give_role(client, bob, "owner").status_code == 403
    assert give_role(client, alice, "member").status_code == 403
    assert client.post(f"/team/members/{alice.profile.pk}/remove/").status_code == 403
    assert (role_of(alice), role_of(bob)) == (Profile.OWNER, Profile.MEMBER)
    # What an admin may do: members and admins, up to admin.
    assert give_role(client, bob, "admin").status_code == 302
    assert role_of(bob) == Profile.ADMIN
    content = client.get("/team/").content.decode()
    options = content.split(f'id="role-{bob.profile.pk}"')[1].split("</select>")[0]
    assert 'value="owner"' not in options and 'value="admin"' in options


def test_an_unknown_role_is_refused_with_a_message(client, alice, bob):
    client.force_login(alice)
    response = client.post(f"/team/members/{bob.profile.pk}/role/", {"role": "emperor"}, **HTMX)
    assert response.status_code == 200
    assert "Choose owner, admin or member." in response.content.decode()
    assert role_of(bob) == Profile.MEMBER


def test_the_last_owner_cannot_step_down(alice, bob):
    with pytest.raises(membership.LastOwner):
        membership.change_role(alice, alice.profile, Profile.ADMIN)
    assert role_of(alice) == Profile.OWNER
    assert not AuditEntry.objects.filter(action=AuditEntry.ROLE_CHANGED).exists()


def test_one_of_two_owners_may_step_down(alice, dave):
    membership.change_role(alice, alice.profile, Profile.MEMBER)
    assert (role_of(alice), role_of(dave)) == (Profile.MEMBER, Profile.OWNER)
    # alice is a member now: she can change nobody, dave included.
    with pytest.raises(membership.NotAllowed):
        membership.change_role(alice, dave.profile, Profile.MEMBER)


def test_two_owners_demoting_each_other_in_turn_leave_one_owner(alice, dave):
    membership.change_role(alice, dave.profile, Profile.MEMBER)
    with pytest.raises(membership.NotAllowed):
        membership.change_role(dave, alice.profile, Profile.MEMBER)
    assert (role_of(alice), role_of(dave)) == (Profile.OWNER, Profile.MEMBER)


def race(*calls) -> list[str]:
    """Run the calls at the same moment, each on its own connection; what each did."""
    start = threading.Barrier(len(calls))
    outcomes: list[str] = [""] * len(calls)

    def run(n: int, call) -> None:
        try:
            start.wait()
            call()
            outcomes[n] = "done"
        except (membership.LastOwner, membership.NotAllowed, membership.MembershipError) as exc:
            outcomes[n] = type(exc).__name__
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n, call)) for n, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_two_owners_demoting_each_other_at_once_leave_one_owner(alice, dave):
    alice_profile, dave_profile = alice.profile, dave.profile
    outcomes = race(
        lambda: membership.change_role(alice, dave_profile, Profile.MEMBER),
        lambda: membership.change_role(dave, alice_profile, Profile.MEMBER),
    )
    assert sorted(outcomes) == ["NotAllowed", "done"], outcomes
    team = Team.objects.get(name="Studio")
    assert Profile.objects.filter(team=team, role=Profile.OWNER).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_owners_removing_each_other_at_once_leave_one_owner(alice, dave):
    alice_profile, dave_profile = alice.profile, dave.profile
    outcomes = race(
        lambda: membership.remove_member(alice, dave_profile),
        lambda: membership.remove_member(dave, alice_profile),
    )
    # The second finds its target gone from the team, or itself gone from it.
    assert sorted(outcomes)[1] == "done" and sorted(outcomes)[0] in {
        "MembershipError",
        "NotAllowed",
    }, outcomes
    team = Team.objects.get(name="Studio")
    assert list(Profile.objects.filter(team=team).values_list("role", flat=True)) == ["owner"]


@pytest.mark.django_db(transaction=True)
def test_owners_stepping_down_at_once_leave_one_owner(alice, dave):
    alice_profile, dave_profile = alice.profile, dave.profile
    outcomes = race(
        lambda: membership.change_role(alice, alice_profile, Profile.MEMBER),
        lambda: membership.change_role(dave, dave_profile, Profile.MEMBER),
    )
    assert sorted(outcomes) == ["LastOwner", "done"], outcomes
    team = Team.objects.get(name="Studio")
    assert Profile.objects.filter(team=team, role=Profile.OWNER).count() == 1


# -- removing members ------------------------------------------------------------


def test_a_removed_member_keeps_their_account_but_loses_the_team_and_their_keys(client, alice, bob):
    key, secret = apikeys.issue(bob, "bob's key")
    task_id = services.submit(
        user=alice, model="kling/v2-1", input={"prompt": "a team secret", "resolution": "480p"}
    ).task_id
    client.force_login(alice)
    response = client.post(f"/team/members/{bob.profile.pk}/remove/", **HTMX)
    assert "bob is no longer in the team." in response.content.decode()
    assert 'data-member="bob"' not in response.content.decode()

    profile = Profile.objects.select_related("team").get(user=bob)
    assert profile.team.name != "Studio" and profile.role == Profile.OWNER
    assert apikeys.authenticate(secret) is None
    actions = list(
        AuditEntry.objects.filter(team__name="Studio")
        .exclude(action=AuditEntry.CREDITS_GRANTED)  # alice's test credits
        .order_by("id")
        .values_list("action", "target", "actor")
    )
    assert actions == [
        (AuditEntry.KEY_REVOKED, f"key {key.prefix}… (bob's key) of bob", alice.pk),
        (AuditEntry.MEMBER_REMOVED, "bob", alice.pk),
    ]
    client.force_login(bob)
    assert client.get(f"/generations/{task_id}/").status_code == 404
    assert "a team secret" not in client.get("/gallery/").content.decode()


def test_nobody_removes_themselves(client, alice, dave):
    with pytest.raises(membership.MembershipError, match="cannot remove yourself"):
        membership.remove_member(alice, alice.profile)
    assert Profile.objects.get(user=alice).team.name == "Studio"


def test_an_owner_removes_another_owner(alice, dave):
    membership.remove_member(alice, dave.profile)
    assert Profile.objects.get(user=dave).team.name != "Studio"


# -- keys ------------------------------------------------------------------------


def test_an_admin_revokes_any_key_of_the_team_and_every_process_forgets_it(
    shared_redis, client, alice, erin
):
    keycache._entries.clear()
    key, secret = apikeys.issue(alice, "owner's key")
    assert apikeys.authenticate(secret) is not None  # read, and kept by this process
    assert key.prefix in keycache._entries
    client.force_login(erin)
    response = client.post(f"/team/keys/{key.prefix}/revoke/", **HTMX)
    assert f"Key {key.prefix}… of alice is revoked" in response.content.decode()
    assert key.prefix not in response.content.decode().split('id="team-keys"')[1]
    assert apikeys.check(secret) is None
    entry = AuditEntry.objects.get(action=AuditEntry.KEY_REVOKED)
    assert (entry.actor, entry.after) == (erin, {"active": False})
    keycache._entries.clear()


def test_a_member_cannot_revoke_a_teammates_key_anywhere(client, alice, bob):
    key, secret = apikeys.issue(alice, "owner's key")
    client.force_login(bob)
    assert client.post(f"/team/keys/{key.prefix}/revoke/").status_code == 403
    assert client.post(f"/account/keys/{key.prefix}/revoke/").status_code == 404
    with pytest.raises(membership.NotAllowed):
        membership.revoke_key(bob, key)
    assert apikeys.authenticate(secret) is not None


# -- the migration ---------------------------------------------------------------


def test_the_migration_makes_each_teams_first_member_and_superusers_owners(migrated_back):
    User = migrated_back.get_model("auth", "User")
    OldTeam = migrated_back.get_model("accounts", "Team")
    OldProfile = migrated_back.get_model("accounts", "Profile")
    studio, lab, solo = (OldTeam.objects.create(name=name) for name in ("Studio", "Lab", "Solo"))
    # Created in this order, so the user ids rise in it, whatever the names.
    placed = [
        ("zoe", studio, False),
        ("adam", studio, False),
        ("lea", lab, False),
        ("root", lab, True),
        ("max", lab, False),
        ("sam", solo, False),
    ]
    for username, team, superuser in placed:
        user = User.objects.create(username=username, is_superuser=superuser)
        OldProfile.objects.create(user=user, team=team)

    MigrationExecutor(connection).migrate(AFTER)

    roles = dict(Profile.objects.values_list("user__username", "role"))
    assert roles == {
        "zoe": "owner",
        "adam": "member",
        "lea": "owner",
        "root": "owner",
        "max": "member",
        "sam": "owner",
    }
