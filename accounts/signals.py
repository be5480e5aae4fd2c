from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts import keycache
from accounts.models import ApiKey, Profile, Team
from accounts.teams import ensure_member, ensure_wallet


@receiver(post_save, sender=Team)
def give_new_team_a_wallet(sender, instance, created, raw=False, **kwargs):
    # Teams from the admin, a sign-up or a new user's own all get their wallet.
    if created and not raw:
        ensure_wallet(instance)


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def give_new_user_a_team(sender, instance, created, raw=False, **kwargs):
    # Users from createsuperuser, the admin or create_member all get a team;
    # fixtures (raw) bring their own rows.
    if created and not raw:
        ensure_member(
            instance,
            getattr(instance, "_reelgate_team", None),
            getattr(instance, "_reelgate_role", None),
        )


@receiver(post_save, sender=ApiKey)
@receiver(post_delete, sender=ApiKey)
@receiver(post_save, sender=settings.AUTH_USER_MODEL)
@receiver(post_delete, sender=settings.AUTH_USER_MODEL)
@receiver(post_save, sender=Profile)
@receiver(post_delete, sender=Profile)
def forget_kept_keys(sender, raw=False, **kwargs):
    # A key, its user (active or not) or their team may have changed: no
    # process may go on authenticating with what it kept (accounts/keycache.py).
    if not raw:
        keycache.changed()
