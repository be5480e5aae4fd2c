from django.core.management.base import BaseCommand, CommandError

from accounts import ledger
from accounts.management.commands.apikey import find_user
from accounts.models import Team
from accounts.teams import wallet_of


class Command(BaseCommand):
    help = "Grant credits to a team's wallet."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        grant = actions.add_parser(
            "grant", help="add credits to a team's wallet (named by the team, or by a member)"
        )
        grant.add_argument("name", help="a team's name, or a username meaning that user's team")
        grant.add_argument("amount")
        grant.add_argument("--note", default="granted from the command line")

    def handle(self, *args, action, name, amount, note, **options):
        team = Team.objects.filter(name=name).first()
        wallet = team.wallet if team is not None else _member_wallet(name)
        try:
            entry = ledger.grant(wallet, amount, note=note)
        except (ValueError, TypeError) as exc:
            raise CommandError(f"Cannot grant {amount!r}: {exc}.") from None
        now = ledger.current(wallet)
        self.stdout.write(
            f"Granted {entry.amount} credits to team {wallet.team}; balance {now.balance}, "
            f"available {now.available()}."
        )


def _member_wallet(name: str):
    try:
        user = find_user(name)
    except CommandError:
        raise CommandError(f"No team or user named {name!r}.") from None
    return wallet_of(user)
