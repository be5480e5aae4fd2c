"""Invitations: an owner or admin invites by e-mail and role; the link, shown once
and e-mailed, signs a new account up into the team or moves a signed-in one
into it, once, until it expires or is revoked."""

import hashlib
import socket
import socketserver
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts import membership
from accounts.models import AuditEntry, Invitation, Profile, Team
from accounts.teams import create_member
from playground import services
from tests.processes import ROOT
from tests.test_team_roles import HTMX

NEW_PASSWORD = "a-long-invited-password"


def link_in(content: str) -> str:
    return content.split('<code id="invitation-link" class="secret">')[1].split("</code>")[0]


def token_of(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[1]


def invite(client, email="newcomer@example.com", role="member") -> str:
    """Invite through the team page as the signed-in user; the link it shows."""
    response = client.post("/team/invitations/", {"email": email, "role": role}, **HTMX)
    assert response.status_code == 200, response.content[:500]
    return link_in(response.content.decode())


@pytest.fixture
def owner(client, alice):
    client.force_login(alice)
    return client


def sign_up(client, link: str, username="newcomer", password=NEW_PASSWORD):
    return client.post(link, {"username": username, "password1": password, "password2": password})


# -- inviting --------------------------------------------------------------------


def test_an_owner_invites_and_the_link_is_shown_once_and_e_mailed(owner, alice, settings):
    settings.INVITATION_DAYS = 3
    link = invite(owner, "Newcomer@EXAMPLE.com", "admin")
    assert link.startswith("http://testserver/join/")
    invitation = Invitation.objects.get()
    assert (invitation.team.name, invitation.email, invitation.role) == (
        "Studio",
        "Newcomer@example.com",
        "admin",
    )
    assert invitation.created_by == alice
    expected_end = timezone.now() + timedelta(days=3)
    assert abs((invitation.expires_at - expected_end).total_seconds()) < 60
    # Only the digest is kept.
    token = token_of(link)
    assert invitation.token_digest == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(Invitation.objects.values().get())

    [message] = mail.outbox
    assert message.to == ["Newcomer@example.com"]
    assert message.subject == "Join Studio on Reelgate"
    assert (
        link in message.body and "alice invites you" in message.body and "as admin" in message.body
    )

    page = owner.get("/team/").content.decode()
    assert token not in page
    assert f'data-invitation="{invitation.pk}"' in page and "Newcomer@example.com" in page


def test_the_link_points_at_public_base_url_when_set(owner, settings):
    settings.PUBLIC_BASE_URL = "https://reelgate.example.com"
    assert invite(owner).startswith("https://reelgate.example.com/join/")


def test_without_js_the_invitation_page_shows_the_link_too(owner):
    response = owner.post("/team/invitations/", {"email": "plain@example.com", "role": "member"})
    assert response.status_code == 200
    assert link_in(response.content.decode()).startswith("http://testserver/join/")


def test_an_admin_invites_members_and_admins_but_no_owner(client, alice):
    erin = create_member("erin", alice.profile.team, password="erin-password", role="admin")
    client.force_login(erin)
    invite(client, "helper@example.com", "admin")
    response = client.post("/team/invitations/", {"email": "boss@example.com", "role": "owner"})
    # Not a choice an admin is offered: the form refuses it.
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    with pytest.raises(membership.NotAllowed):
        membership.invite(erin, "boss@example.com", "owner", base_url="http://testserver")
    assert list(Invitation.objects.values_list("email", flat=True)) == ["helper@example.com"]


def test_a_member_cannot_invite(client, bob):
    client.force_login(bob)
    assert (
        client.post("/team/invitations/", {"email": "x@example.com", "role": "member"}).status_code
        == 403
    )
    assert not Invitation.objects.exists() and not mail.outbox


def test_inviting_a_member_again_is_refused_with_a_message(owner, bob):
    bob.email = "bob@example.com"
    bob.save()
    response = owner.post(
        "/team/invitations/", {"email": "BOB@example.com", "role": "member"}, **HTMX
    )
    assert "BOB@example.com is already a member of Studio." in response.content.decode()
    assert not Invitation.objects.exists()


def test_a_bad_address_is_refused_by_the_form(owner):
    response = owner.post(
        "/team/invitations/", {"email": "not an address", "role": "member"}, **HTMX
    )
    assert "Enter a valid email address." in response.content.decode()
    assert not Invitation.objects.exists()


class SmtpSink(socketserver.ThreadingTCPServer):
    """A bare SMTP server on 127.0.0.1 that keeps each message's DATA."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SmtpHandler)
        self.messages: list[str] = []


class SmtpHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self.wfile.write(b"220 sink ready\r\n")
        while line := self.rfile.readline():
            verb = line.strip().split(b" ")[0].upper()
            if verb in (b"EHLO", b"HELO"):
                self.wfile.write(b"250 sink\r\n")
            elif verb == b"DATA":
                self.wfile.write(b"354 go on\r\n")
                body = []
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    body.append(data.decode())
                self.server.messages.append("".join(body))
                self.wfile.write(b"250 kept\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:  # MAIL, RCPT, RSET, NOOP
                self.wfile.write(b"250 ok\r\n")


def test_with_an_smtp_server_the_invitation_goes_out_over_smtp(owner, settings):
    sink = SmtpSink()
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.server_address[1]
    settings.EMAIL_USE_TLS = False
    try:
        link = invite(owner, "far@example.com")
    finally:
        sink.shutdown()
        sink.server_close()
    [message] = sink.messages
    assert "To: far@example.com" in message and link in message


def test_when_the_e_mail_cannot_be_sent_the_invitation_stands_and_the_page_says_so(owner, settings):
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 2
    settings.EMAIL_USE_TLS = False
    response = owner.post(
        "/team/invitations/", {"email": "lost@example.com", "role": "member"}, **HTMX
    )
    content = response.content.decode()
    assert "The e-mail could not be sent: give them the link below yourself." in content
    assert Invitation.objects.get().is_pending()
    assert link_in(content).startswith("http://testserver/join/")


def settings_of(env: dict[str, str], *names: str) -> list[str]:
    """The values a fresh process reads for `names` under `env`."""
    code = (
        "import django; django.setup(); from django.conf import settings; "
        f"print('|'.join(str(getattr(settings, n)) for n in {names!r}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"DJANGO_SETTINGS_MODULE": "config.settings", "PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 or not names, done.stderr
    return done.stdout.strip().split("|") if done.returncode == 0 else [done.stderr]


def test_the_e_mail_backend_follows_the_environment():
    assert settings_of({}, "EMAIL_BACKEND") == ["django.core.mail.backends.console.EmailBackend"]
    smtp = settings_of(
        {"EMAIL_HOST": "smtp.example.com", "EMAIL_PORT": "2525", "EMAIL_USE_TLS": "0"},
        "EMAIL_BACKEND",
        "EMAIL_HOST",
        "EMAIL_PORT",
        "EMAIL_USE_TLS",
    )
    assert smtp == [
        "django.core.mail.backends.smtp.EmailBackend",
        "smtp.example.com",
        "2525",
        "False",
    ]
    [error] = settings_of({"EMAIL_USE_SSL": "1"})
    assert "EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive" in error
    [error] = settings_of({"INVITATION_DAYS": "0"})
    assert "INVITATION_DAYS=0 is below the minimum 1" in error


# -- joining ---------------------------------------------------------------------


def test_a_new_person_signs_up_into_the_team_with_the_role(owner, client, alice):
    link = invite(owner, "newcomer@example.com", "admin")
    owner.logout()
    page = client.get(link)
    assert page.status_code == 200
    content = page.content.decode()
    assert "Join Studio" in content and "alice invites you to the team Studio as admin." in content

    response = sign_up(client, link)
    assert response.status_code == 302 and response["Location"] == "/team/"
    profile = Profile.objects.select_related("user", "team").get(user__username="newcomer")
    assert (profile.team.name, profile.role, profile.user.email) == (
        "Studio",
        "admin",
        "newcomer@example.com",
    )
    assert profile.user.check_password(NEW_PASSWORD)
    invitation = Invitation.objects.get()
    assert invitation.state() == Invitation.ACCEPTED and invitation.accepted_by == profile.user
    # Signed in, on the team page, welcomed.
    team_page = client.get("/team/").content.decode()
    assert "Welcome to Studio: you joined as admin." in team_page
    assert 'data-member="newcomer"' in team_page
    entry = AuditEntry.objects.get(action=AuditEntry.MEMBER_JOINED)
    assert (entry.actor, entry.target, entry.after["role"]) == (profile.user, "newcomer", "admin")


def test_sign_up_mistakes_are_shown_and_the_link_still_works(owner, client, bob):
    link = invite(owner)
    owner.logout()
    taken = sign_up(client, link, username="bob")
    assert "A user with that username already exists." in taken.content.decode()
    mismatch = client.post(
        link, {"username": "newcomer", "password1": NEW_PASSWORD, "password2": "something else"}
    )
    assert "The two password fields didn" in mismatch.content.decode()
    weak = sign_up(client, link, password="123")
    assert "This password is too short." in weak.content.decode()
    assert Invitation.objects.get().is_pending()
    assert sign_up(client, link).status_code == 302


def test_a_link_works_once(owner, client):
    link = invite(owner)
    owner.logout()
    assert sign_up(client, link).status_code == 302
    client.logout()
    again = client.get(link)
    assert again.status_code == 410
    assert "has been used already" in again.content.decode()
    assert sign_up(client, link, username="second").status_code == 410
    assert not Profile.objects.filter(user__username="second").exists()


def test_an_expired_link_says_so(owner, client):
    link = invite(owner)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    owner.logout()
    response = client.get(link)
    assert response.status_code == 410
    assert "The invitation to Studio expired on" in response.content.decode()
    assert sign_up(client, link).status_code == 410
    assert not Profile.objects.filter(user__username="newcomer").exists()


def test_a_revoked_link_says_so(owner, client, alice):
    link = invite(owner)
    invitation = Invitation.objects.get()
    response = owner.post(f"/team/invitations/{invitation.pk}/revoke/", **HTMX)
    assert "The invitation to newcomer@example.com is revoked" in response.content.decode()
    assert f'data-invitation="{invitation.pk}"' not in response.content.decode()
    owner.logout()
    page = client.get(link)
    assert page.status_code == 410 and "was revoked" in page.content.decode()
    entry = AuditEntry.objects.get(action=AuditEntry.INVITATION_REVOKED)
    assert (entry.actor, entry.target) == (alice, "newcomer@example.com")


def test_revoking_twice_is_a_message_not_an_error(owner):
    invite(owner)
    invitation = Invitation.objects.get()
    owner.post(f"/team/invitations/{invitation.pk}/revoke/")
    response = owner.post(f"/team/invitations/{invitation.pk}/revoke/", **HTMX)
    assert response.status_code == 200
    assert "is revoked already" in response.content.decode()


def test_an_admin_cannot_revoke_an_invitation_to_be_owner(owner, client, alice):
    invite(owner, "future-owner@example.com", "owner")
    erin = create_member("erin", alice.profile.team, password="erin-password", role="admin")
    client.force_login(erin)
    invitation = Invitation.objects.get()
    assert client.post(f"/team/invitations/{invitation.pk}/revoke/").status_code == 403
    assert Invitation.objects.get().is_pending()


@pytest.mark.parametrize(
    "token",
    ["nothing-here", "x" * 500, "%00", "..", "a" * 43],
    ids=["word", "long", "nul", "dots", "shaped"],
)
def test_an_unknown_link_is_a_404_page_with_a_message(client, db, token):
    response = client.get(f"/join/{token}/")
    assert response.status_code == 404
    assert "There is no invitation at this link." in response.content.decode()
    assert client.post(f"/join/{token}/", {"username": "x"}).status_code == 404


def test_a_signed_in_user_confirms_before_their_account_moves(owner, client, carol):
    link = invite(owner, "carol@example.com", "member")
    client.force_login(carol)
    page = client.get(link).content.decode()
    assert "You are signed in as <strong>carol</strong>, in the team Elsewhere." in page
    assert Profile.objects.get(user=carol).team.name == "Elsewhere"

    response = client.post(link)
    assert response.status_code == 302 and response["Location"] == "/team/"
    profile = Profile.objects.select_related("team").get(user=carol)
    assert (profile.team.name, profile.role) == ("Studio", "member")
    # Her old team's wallet was granted credits: it stays, memberless, as their record.
    elsewhere = Team.objects.get(name="Elsewhere")
    assert not elsewhere.members.exists() and elsewhere.wallet.balance == 500
    assert Invitation.objects.get().accepted_by == carol


def test_the_only_owner_of_a_team_with_others_cannot_leave_it(owner, client, carol):
    create_member("frank", carol.profile.team, password="frank-password")
    link = invite(owner)
    client.force_login(carol)
    response = client.post(link)
    assert response.status_code == 200
    assert "You are the only owner of Elsewhere" in response.content.decode()
    assert Profile.objects.get(user=carol).team.name == "Elsewhere"
    assert Invitation.objects.get().is_pending()


def test_a_member_leaving_for_another_team_is_in_the_old_teams_log(owner, client, carol):
    frank = create_member("frank", carol.profile.team, password="frank-password")
    link = invite(owner)
    client.force_login(frank)
    assert client.post(link).status_code == 302
    left = AuditEntry.objects.get(action=AuditEntry.MEMBER_LEFT)
    assert (left.team.name, left.actor, left.after) == ("Elsewhere", frank, {"joined": "Studio"})
    assert Profile.objects.get(user=frank).team.name == "Studio"


def test_a_team_already_joined_is_a_message(owner, bob):
    link = invite(owner, "someone@example.com")
    owner.force_login(bob)
    response = owner.post(link)
    assert "You are a member of Studio already." in response.content.decode()
    assert Invitation.objects.get().is_pending()


def test_a_user_with_generations_moves_and_their_old_team_stays_as_their_record(
    owner, client, carol
):
    task_id = services.submit(
        user=carol, model="kling/v2-1", input={"prompt": "carol's clip", "resolution": "480p"}
    ).task_id
    link = invite(owner)
    client.force_login(carol)
    assert client.post(link).status_code == 302
    assert Profile.objects.get(user=carol).team.name == "Studio"
    old = Team.objects.get(name="Elsewhere")
    assert not old.members.exists() and old.generations.filter(task_id=task_id).exists()
