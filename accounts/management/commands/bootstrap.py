import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import ledger, membership
from accounts.models import Team
from accounts.teams import create_member

DEMO_FILE = settings.BASE_DIR / ".reelgate-demo.txt"
DEMO_CREDITS = 1000


class Command(BaseCommand):
    help = (
        "First start: when no user exists, create the superuser `admin` and the user `demo` "
        f"(team Demo, {DEMO_CREDITS} credits, an API key). Does nothing afterwards."
    )

    def handle(self, *args, **options):
        if get_user_model().objects.exists():
            self.stdout.write("Users exist already; nothing to bootstrap.")
            return
        admin_password = secrets.token_urlsafe(12)
        demo_password = secrets.token_urlsafe(12)
        with transaction.atomic():
            admin = create_member(
                "admin",
                Team.objects.create(name="Admins"),
                password=admin_password,
                is_staff=True,
                is_superuser=True,
            )
            demo = create_member("demo", Team.objects.create(name="Demo"), password=demo_password)
            demo_team = demo.profile.team
            ledger.grant(demo_team.wallet, DEMO_CREDITS, note="welcome credits", actor=admin)
            _, demo_key = membership.create_key(admin, "demo key", owner=demo)
        text = (
            "Reelgate first-start accounts (shown once; keep this file private)\n"
            f"admin password: {admin_password}\n"
            f"demo password:  {demo_password}\n"
            f"demo API key:   {demo_key}\n"
        )
        DEMO_FILE.write_text(text)
        DEMO_FILE.chmod(0o600)
        self.stdout.write(text + f"Written to {DEMO_FILE.name}.")
