"""Every user belongs to one team and owns one credit account."""

from django.contrib.auth import get_user_model
from django.db import transaction

from accounts.models import CreditAccount, Profile, Team


def ensure_member(user, team: Team | None = None) -> Profile:
    """Give `user` a profile (in `team`, or a team of their own) and a credit account."""
    with transaction.atomic():
        CreditAccount.objects.get_or_create(user=user)
        profile = Profile.objects.filter(user=user).select_related("team").first()
        if profile is None:
            if team is None:
                team, _ = Team.objects.get_or_create(name=_free_team_name(user.get_username()))
            profile = Profile.objects.create(user=user, team=team)
        elif team is not None and profile.team_id != team.pk:
            move_to_team(profile, team)
    return profile


def move_to_team(profile: Profile, team: Team) -> None:
    """Move a member; a team left without members is removed."""
    old_team = profile.team
    profile.team = team
    profile.save(update_fields=["team"])
    if not old_team.members.exists():
        old_team.delete()


def create_member(username: str, team: Team, *, password: str, **fields):
    """A new user in `team`, with a credit account."""
    with transaction.atomic():
        user = get_user_model()(username=username, **fields)
        user.set_password(password)
        user._reelgate_team = team  # read by the post_save receiver
        user.save()
    return user


def _free_team_name(base: str) -> str:
    name, n = base, 1
    while Team.objects.filter(name=name).exists():
        n += 1
        name = f"{base} {n}"
    return name
