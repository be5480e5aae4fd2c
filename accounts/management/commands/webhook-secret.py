"""manage.py webhook-secret USERNAME [--rotate]: print (or replace) a user's signing secret."""

from django.core.management.base import BaseCommand

from accounts.management.commands.apikey import find_user
from accounts.teams import ensure_member


class Command(BaseCommand):
    help = (
        "Print a user's webhook signing secret (created on first use); with --rotate, "
        "replace it and print the new one."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--rotate",
            action="store_true",
            help="replace the secret; receivers must switch to the new one",
        )

    def handle(self, *args, username: str, rotate: bool = False, **options):
        profile = ensure_member(find_user(username))
        if rotate:
            secret = profile.rotate_signing_secret()
            self.stderr.write(
                f"Rotated the signing secret of {profile.user}. Every request signed from "
                "now on (retries included) uses the new secret:"
            )
        else:
            secret = profile.signing_secret()
        self.stdout.write(secret)
