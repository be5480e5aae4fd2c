from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts import membership
from accounts.models import ApiKey


def find_user(username: str):
    try:
        return get_user_model().objects.get(username=username)
    except get_user_model().DoesNotExist:
        raise CommandError(f"No user named {username!r}.") from None


class Command(BaseCommand):
    help = "Create, list or revoke API keys. The secret is printed once, at creation."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="create a key; its secret is the last line")
        create.add_argument("username")
        create.add_argument("--name", default="")
        listing = actions.add_parser("list", help="list a user's keys")
        listing.add_argument("username")
        revoke = actions.add_parser("revoke", help="revoke a key by its prefix")
        revoke.add_argument("prefix")

    def handle(self, *args, action, **options):
        if action == "create":
            user = find_user(options["username"])
            # Recorded in the team's audit log with no actor: the operator's.
            key, secret = membership.create_key(None, options["name"], owner=user)
            self.stderr.write(f"Created key {key.prefix}… for {user}. It is shown only now:")
            self.stdout.write(secret)
        elif action == "list":
            user = find_user(options["username"])
            for key in user.api_keys.all():
                state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
                used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
                self.stdout.write(f"{key.prefix}\t{key.name or '-'}\t{state}\tlast used {used}")
        else:
            prefix = options["prefix"].rstrip("…")
            key = ApiKey.objects.filter(prefix=prefix).first()
            if key is None:
                raise CommandError(f"No API key with prefix {prefix!r}.")
            if membership.revoke_key(None, key):
                self.stdout.write(f"Revoked {key.prefix}.")
            else:
                self.stdout.write(f"{key.prefix} was already revoked.")
