"""Every user belongs to one team; every team has one wallet (its credit account)."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import ProtectedError

from accounts.models import CreditAccount, Profile, Team


def ensure_member(user, team: Team | None = None) -> Profile:
    """Give `user` a profile: in `team`, or in a team of their own."""
    with transaction.atomic():
        profile = Profile.objects.filter(user=user).select_related("team").first()
        if profile is None:
            if team is None:
                team, _ = Team.objects.get_or_create(name=_free_team_name(user.get_username()))
            profile = Profile.objects.create(user=user, team=team)
        elif team is not None and profile.team_id != team.pk:
            move_to_team(profile, team)
    return profile


def ensure_wallet(team: Team) -> CreditAccount:
    """The team's wallet, made when the team is (accounts/signals.py)."""
    wallet, _ = CreditAccount.objects.get_or_create(team=team)
    return wallet


def wallet_of(user) -> CreditAccount:
    """The wallet `user`'s generations are paid from: their team's, as it is now."""
    return CreditAccount.objects.get(team__members__user=user)


def move_to_team(profile: Profile, team: Team) -> None:
    """Move a member; a team left without members is removed while nothing
    recorded refers to it (its wallet's history, its generations)."""
    old_team = profile.team
    profile.team = team
    profile.save(update_fields=["team"])
    if old_team.members.exists():
        return
    try:
        with transaction.atomic():
            CreditAccount.objects.filter(team=old_team).delete()
            old_team.delete()
    except ProtectedError:
        pass


def create_member(username: str, team: Team, *, password: str, **fields):
    """A new user in `team`."""
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
