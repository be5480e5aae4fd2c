"""Changes to a team: invitations and joining, roles, removing members, API keys.

Every change that touches roles or members runs in one transaction holding
the row lock of the team (select_for_update), in which the actor's own role
is read again and the rule "a team keeps at least one owner" is checked: two
owners demoting each other at the same moment cannot leave the team without
one, as the second waits for the first and then sees what it did. Joining
locks both the team left and the team joined, in id order.

Who may do what (accounts.models.Profile): owners everything; admins
manage members, invitations and keys but never make an owner nor change
one; members only their own keys. A refusal for want of a role raises
NotAllowed (a PermissionDenied, which Django answers with 403); a refusal a
person can act on (the last owner, an e-mail already in the team) raises
MembershipError with a sentence saying why. Every change writes an audit
entry (accounts/audit.py) in its own transaction.
"""

from __future__ import annotations

import logging
import secrets
import smtplib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts import apikeys, audit
from accounts.models import ApiKey, AuditEntry, Invitation, Profile, Team
from accounts.teams import create_member, move_to_team, new_team

log = logging.getLogger(__name__)

ROLE_NAMES = dict(Profile.ROLES)
# Invitation links are found by the digest of their token, which is this long
# in a link we made; anything much longer is not worth a query.
TOKEN_MAX_LENGTH = 100


class MembershipError(Exception):
    """A change refused for a reason the person asking can read and act on."""


class LastOwner(MembershipError):
    pass


class NotAllowed(PermissionDenied):
    """The actor's role does not allow the change (403)."""


class InvitationUnusable(Exception):
    """The link is unknown, or its invitation expired, was used or was revoked."""

    def __init__(self, state: str, invitation: Invitation | None = None) -> None:
        super().__init__(state)
        self.state = state
        self.invitation = invitation


UNKNOWN = "unknown"


@dataclass
class NewInvitation:
    invitation: Invitation
    # The link with the token: shown once, never stored.
    link: str
    # Whether the e-mail went out; when it did not, the inviter passes the link on.
    emailed: bool


# -- locking ---------------------------------------------------------------------


def _lock_teams(team_ids: Iterable[int]) -> dict[int, Team]:
    """Row locks of the teams, taken in id order so two transactions never
    wait for each other's second lock."""
    teams = Team.objects.select_for_update().filter(pk__in=set(team_ids)).order_by("pk")
    return {team.pk: team for team in teams}


def _lock_as_manager(actor: AbstractBaseUser) -> Profile:
    """The actor's profile, read again under the lock of their team; NotAllowed
    unless they are an owner or admin of it."""
    team_id = Profile.objects.values_list("team_id", flat=True).get(user=actor)
    team = _lock_teams([team_id])[team_id]
    profile = Profile.objects.get(user=actor)
    if profile.team_id != team.pk or not profile.can_manage():
        raise NotAllowed("Only the team's owners and admins may do this.")
    profile.team = team
    return profile


def _member_under_lock(manager: Profile, member: Profile) -> Profile:
    """`member` read again, in the manager's (locked) team, with their user."""
    try:
        return Profile.objects.select_related("user").get(pk=member.pk, team=manager.team)
    except Profile.DoesNotExist:
        raise MembershipError("They are no longer a member of this team.") from None


def _owners(team: Team) -> int:
    return Profile.objects.filter(team=team, role=Profile.OWNER).count()


def _check_role(role: str) -> None:
    if role not in ROLE_NAMES:
        raise MembershipError(f"There is no role {role!r}.")


# -- roles and members -----------------------------------------------------------


def change_role(actor: AbstractBaseUser, member: Profile, role: str) -> Profile:
    """Give `member` of the actor's team the `role`."""
    _check_role(role)
    with transaction.atomic():
        manager = _lock_as_manager(actor)
        member = _member_under_lock(manager, member)
        if not (manager.may_change(member) and manager.may_give(role)):
            raise NotAllowed("Only an owner may make an owner or change one.")
        before = member.role
        if before == role:
            return member
        if before == Profile.OWNER and _owners(manager.team) == 1:
            raise LastOwner(
                f"{member.user.get_username()} is the team's only owner: "
                "make another member owner first."
            )
        member.role = role
        member.save(update_fields=["role"])
        audit.record(
            manager.team,
            actor,
            AuditEntry.ROLE_CHANGED,
            member.user.get_username(),
            before={"role": before},
            after={"role": role},
        )
    return member


def remove_member(actor: AbstractBaseUser, member: Profile) -> None:
    """Take `member` out of the actor's team.

    Their account stays: it moves to a new team of its own, so they can still
    sign in but see nothing of this team. Their API keys are revoked, so no
    client of theirs goes on working with what it was given for this team.
    """
    with transaction.atomic():
        manager = _lock_as_manager(actor)
        member = _member_under_lock(manager, member)
        if member.user_id == manager.user_id:
            raise MembershipError("You cannot remove yourself from the team.")
        if not manager.may_change(member):
            raise NotAllowed("Only an owner may remove an owner.")
        if member.is_owner() and _owners(manager.team) == 1:
            raise LastOwner(f"{member.user.get_username()} is the team's only owner.")
        for key in ApiKey.objects.filter(user_id=member.user_id, revoked_at__isnull=True):
            _revoke_and_record(manager.team, actor, key, member.user)
        role = member.role
        move_to_team(member, new_team(member.user.get_username()), Profile.OWNER)
        audit.record(
            manager.team,
            actor,
            AuditEntry.MEMBER_REMOVED,
            member.user.get_username(),
            before={"role": role},
            after=None,
        )


# -- invitations -----------------------------------------------------------------


def invite(actor: AbstractBaseUser, email: str, role: str, *, base_url: str) -> NewInvitation:
    """Invite `email` to the actor's team as `role`, and e-mail them the link.

    `base_url` is where the link points (PUBLIC_BASE_URL or the inviter's host).
    """
    _check_role(role)
    email = BaseUserManager.normalize_email(email.strip())
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        manager = _lock_as_manager(actor)
        if not manager.may_give(role):
            raise NotAllowed("Only an owner may invite an owner.")
        team = manager.team
        if get_user_model().objects.filter(email__iexact=email, profile__team=team).exists():
            raise MembershipError(f"{email} is already a member of {team.name}.")
        invitation = Invitation.objects.create(
            team=team,
            email=email,
            role=role,
            token_digest=apikeys.digest(token),
            created_by=actor,
            expires_at=timezone.now() + timedelta(days=settings.INVITATION_DAYS),
        )
        audit.record(
            team,
            actor,
            AuditEntry.INVITATION_CREATED,
            email,
            after={"role": role, "expires_at": invitation.expires_at.isoformat(timespec="seconds")},
        )
    link = base_url + reverse("join", args=[token])
    return NewInvitation(invitation, link, emailed=_send_invitation(invitation, link, actor))


def _send_invitation(invitation: Invitation, link: str, inviter: AbstractBaseUser) -> bool:
    context = {
        "invitation": invitation,
        "link": link,
        "inviter": inviter.get_username(),
        "role": ROLE_NAMES[invitation.role].lower(),
    }
    try:
        send_mail(
            f"Join {invitation.team.name} on Reelgate",
            render_to_string("email/invitation.txt", context),
            None,  # DEFAULT_FROM_EMAIL
            [invitation.email],
        )
    except (smtplib.SMTPException, OSError):
        # The invitation stands: the page shows its link to pass on by hand.
        log.exception("could not e-mail the invitation %s to %s", invitation.pk, invitation.email)
        return False
    return True


def revoke_invitation(actor: AbstractBaseUser, invitation: Invitation) -> None:
    """Revoke a pending invitation of the actor's team: its link stops working."""
    with transaction.atomic():
        manager = _lock_as_manager(actor)
        try:
            invitation = Invitation.objects.get(pk=invitation.pk, team=manager.team)
        except Invitation.DoesNotExist:
            raise MembershipError("There is no such invitation.") from None
        if not manager.may_give(invitation.role):
            raise NotAllowed("Only an owner may revoke an invitation to be owner.")
        state = invitation.state()
        if state != Invitation.PENDING:
            raise MembershipError(f"The invitation to {invitation.email} is {state} already.")
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit.record(
            manager.team,
            actor,
            AuditEntry.INVITATION_REVOKED,
            invitation.email,
            before={"state": Invitation.PENDING},
            after={"state": Invitation.REVOKED},
        )


def find_invitation(token: str) -> Invitation:
    """The pending invitation of a link's token; InvitationUnusable otherwise."""
    invitation = None
    if token and len(token) <= TOKEN_MAX_LENGTH:
        invitation = (
            Invitation.objects.select_related("team", "created_by")
            .filter(token_digest=apikeys.digest(token))
            .first()
        )
    if invitation is None:
        raise InvitationUnusable(UNKNOWN)
    state = invitation.state()
    if state != Invitation.PENDING:
        raise InvitationUnusable(state, invitation)
    return invitation


def _lock_invitation(token: str, *also_teams: int) -> Invitation:
    """The link's invitation, under the lock of its team (and `also_teams`),
    checked again to be pending."""
    invitation = find_invitation(token)
    teams = _lock_teams([invitation.team_id, *also_teams])
    invitation = find_invitation(token)  # accepted or revoked while we waited?
    invitation.team = teams[invitation.team_id]
    return invitation


def _accepted(invitation: Invitation, user: AbstractBaseUser) -> None:
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit.record(
        invitation.team,
        user,
        AuditEntry.MEMBER_JOINED,
        user.get_username(),
        before=None,
        after={"role": invitation.role, "invited_as": invitation.email},
    )


def join_as_new_user(token: str, username: str, password: str) -> AbstractBaseUser:
    """A new account in the invitation's team, with its role and e-mail address."""
    with transaction.atomic():
        invitation = _lock_invitation(token)
        try:
            user = create_member(
                username,
                invitation.team,
                password=password,
                role=invitation.role,
                email=invitation.email,
            )
        except IntegrityError:  # taken since the form checked it
            raise MembershipError(f"The username {username} is taken.") from None
        _accepted(invitation, user)
    return user


def join_as(user: AbstractBaseUser, token: str) -> Profile:
    """Move a signed-in user's account into the invitation's team, with its role.

    They leave their team for it; its only owner may not leave other members
    behind without one.
    """
    with transaction.atomic():
        old_team_id = Profile.objects.values_list("team_id", flat=True).get(user=user)
        invitation = _lock_invitation(token, old_team_id)
        profile = Profile.objects.select_related("team").get(user=user)
        if profile.team_id == invitation.team_id:
            raise MembershipError(f"You are a member of {invitation.team.name} already.")
        if profile.team_id != old_team_id:
            raise MembershipError("Your team changed meanwhile: open the link again.")
        old_team = profile.team
        others_stay = old_team.members.exclude(pk=profile.pk).exists()
        if others_stay and profile.is_owner() and _owners(old_team) == 1:
            raise LastOwner(
                f"You are the only owner of {old_team.name}: "
                "make another member owner before you leave it."
            )
        if others_stay:
            audit.record(
                old_team,
                user,
                AuditEntry.MEMBER_LEFT,
                user.get_username(),
                before={"role": profile.role},
                after={"joined": invitation.team.name},
            )
        move_to_team(profile, invitation.team, invitation.role)
        _accepted(invitation, user)
    return profile


# -- API keys --------------------------------------------------------------------


def describe_key(key: ApiKey, owner: AbstractBaseUser) -> str:
    return f"key {key.prefix}… ({key.name or 'unnamed'}) of {owner.get_username()}"


def create_key(
    actor: AbstractBaseUser | None, name: str = "", *, owner: AbstractBaseUser | None = None
) -> tuple[ApiKey, str]:
    """A new API key of `owner` (by default the actor's own). Returns the row
    and the secret, shown once. No actor: an operator's command."""
    owner = owner or actor
    with transaction.atomic():
        key, secret = apikeys.issue(owner, name)
        audit.record(
            owner.profile.team_id,
            actor,
            AuditEntry.KEY_CREATED,
            describe_key(key, owner),
            after={"prefix": key.prefix, "name": key.name},
        )
    return key, secret


def revoke_key(actor: AbstractBaseUser | None, key: ApiKey) -> bool:
    """Revoke `key`: the actor's own, any of their team's when they are an owner
    or admin, any at all for staff allowed to change keys (the admin) or
    without an actor (an operator's command). False when it was revoked already."""
    with transaction.atomic():
        owner = get_user_model().objects.select_related("profile").get(pk=key.user_id)
        trusted = actor is None or key.user_id == actor.pk
        if not (trusted or actor.has_perm("accounts.change_apikey")):
            manager = Profile.objects.get(user=actor)
            if not (manager.can_manage() and manager.team_id == owner.profile.team_id):
                raise NotAllowed("Only the team's owners and admins may revoke others' keys.")
        return _revoke_and_record(owner.profile.team_id, actor, key, owner)


def _revoke_and_record(
    team: Team | int, actor: AbstractBaseUser | None, key: ApiKey, owner: AbstractBaseUser
) -> bool:
    # apikeys.revoke also tells every process to forget the key (keycache).
    if not apikeys.revoke(key):
        return False
    audit.record(
        team,
        actor,
        AuditEntry.KEY_REVOKED,
        describe_key(key, owner),
        before={"active": True},
        after={"active": False},
    )
    return True
