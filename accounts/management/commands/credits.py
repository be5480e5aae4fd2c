from django.core.management.base import BaseCommand, CommandError

from accounts import ledger
from accounts.management.commands.apikey import find_user


class Command(BaseCommand):
    help = "Grant credits to a user."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        grant = actions.add_parser("grant", help="add credits to a user's account")
        grant.add_argument("username")
        grant.add_argument("amount")
        grant.add_argument("--note", default="granted from the command line")

    def handle(self, *args, action, username, amount, note, **options):
        user = find_user(username)
        try:
            entry = ledger.grant(user.credit_account, amount, note=note)
        except (ValueError, TypeError) as exc:
            raise CommandError(f"Cannot grant {amount!r}: {exc}.") from None
        account = user.credit_account
        account.refresh_from_db()
        self.stdout.write(
            f"Granted {entry.amount} credits to {user}; balance {account.balance}, "
            f"available {account.available()}."
        )
