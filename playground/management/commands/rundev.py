import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from playground import providers, queue
from playground.management.supervisor import Supervisor
from playground.secretbox import SecretsUnreadable


class Command(BaseCommand):
    help = (
        "Run the web server, the django-q2 worker, the sweeper and the poller together in the "
        "foreground. "
        "Ctrl-C stops all three; if one exits, the others are stopped too."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))

    def handle(self, *args, port, host, **options):
        try:
            providers.check_credentials_readable()
        except SecretsUnreadable as exc:
            raise CommandError(str(exc)) from None
        manage = [sys.executable, "manage.py"]
        supervisor = Supervisor(stop_timeout=10)
        supervisor.start("runserver", [*manage, "runserver", "--noreload", f"{host}:{port}"])
        supervisor.start("qcluster", [*manage, "qcluster"])
        if settings.RENDER_WORKERS:
            env = queue.render_cluster_env(os.environ)
            supervisor.start("renders", [*manage, "qcluster"], env)
        supervisor.start("sweeper", [*manage, "sweeper"])
        for number in range(settings.POLLERS):
            supervisor.start(f"poller-{number + 1}", [*manage, "poller"])
        self.stdout.write(
            f"Reelgate on http://{host}:{port}/ with its worker, sweeper and poller. "
            "Ctrl-C stops them."
        )
        supervisor.run()
