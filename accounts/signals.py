from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.teams import ensure_member


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def give_new_user_a_team(sender, instance, created, raw=False, **kwargs):
    # Users from createsuperuser, the admin or create_member all get a team
    # and a credit account; fixtures (raw) bring their own rows.
    if created and not raw:
        ensure_member(instance, getattr(instance, "_reelgate_team", None))
