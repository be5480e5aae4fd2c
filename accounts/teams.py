"""Every user belongs to one team; every team has one wallet (its credit account).

The first member of a team is its owner; whoever joins later is a member
unless given another role (invitations give one: accounts/membership.py).
"""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import ProtectedError, RestrictedError

from accounts.models import CreditAccount, Profile, Team


def ensure_member(user, team: Team | None = None, role: str | None = None) -> Profile:
    """Give `user` a profile: in `team`, or in a team of their own."""
    with transaction.atomic():
        profile = Profile.objects.filter(user=user).select_related("team").first()
        if profile is None:
            if team is None:
                team = new_team(user.get_username())
            profile = Profile.objects.create(user=user, team=team, role=role or _role_in(team))
        elif team is not None and profile.team_id != team.pk:
            move_to_team(profile, team, role)
    return profile


def ensure_wallet(team: Team) -> CreditAccount:
    """The team's wallet, made when the team is (accounts/signals.py)."""
    wallet, _ = CreditAccount.objects.get_or_create(team=team)
    return wallet


def wallet_of(user) -> CreditAccount:
    """The wallet `user`'s generations are paid from: their team's, as it is now."""
    return CreditAccount.objects.get(team__members__user=user)


def move_to_team(profile: Profile, team: Team, role: str | None = None) -> None:
    """Move a member, as `role` (by default: owner of an empty team, else member).

    A team left without members is removed, unless rows still point at it
    (its generations, uploads, audit log): then it stays, memberless, as
    their record.
    """
    old_team = profile.team
    profile.role = role or _role_in(team)
    profile.team = team
    profile.save(update_fields=["team", "role"])
    if not old_team.members.exists():
        try:
            with transaction.atomic():
                # Its wallet goes with it, unless its history (entries) keeps both.
                CreditAccount.objects.filter(team=old_team).delete()
                old_team.delete()
        except (ProtectedError, RestrictedError):
            pass


def create_member(username: str, team: Team, *, password: str, role: str | None = None, **fields):
    """A new user in `team` (as `role`, by default as move_to_team says)."""
    with transaction.atomic():
        user = get_user_model()(username=username, **fields)
        user.set_password(password)
        user._reelgate_team = team  # read by the post_save receiver
        user._reelgate_role = role
        user.save()
    return user


def new_team(base_name: str) -> Team:
    """A new team named after `base_name`, numbered when the name is taken."""
    name, n = base_name, 1
    while Team.objects.filter(name=name).exists():
        n += 1
        name = f"{base_name} {n}"
    return Team.objects.create(name=name)


def _role_in(team: Team) -> str:
    return Profile.MEMBER if team.members.exists() else Profile.OWNER
