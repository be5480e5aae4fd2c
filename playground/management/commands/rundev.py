import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from playground import providers, queue
from playground.management.supervisor import Supervisor
from playground.ops import metrics
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
        # Every process counts into one directory, which /metrics adds up.
        env = metrics.multiprocess_env(os.environ)
        try:
            self.run_all(manage, env, host, port)
        finally:
            metrics.remove_multiprocess_dir(os.environ, env)

    def run_all(self, manage: list[str], env: dict, host: str, port: str) -> None:
        supervisor = Supervisor(stop_timeout=10)
        web = [*manage, "runserver", "--noreload", f"{host}:{port}"]
        supervisor.start("runserver", web, env)
        supervisor.start("qcluster", [*manage, "qcluster"], env)
        if settings.RENDER_WORKERS:
            supervisor.start("renders", [*manage, "qcluster"], queue.render_cluster_env(env))
        supervisor.start("sweeper", [*manage, "sweeper"], env)
        for number in range(settings.POLLERS):
            supervisor.start(f"poller-{number + 1}", [*manage, "poller"], env)
        self.stdout.write(
            f"Reelgate on http://{host}:{port}/ with its worker, sweeper and poller. "
            "Ctrl-C stops them."
        )
        supervisor.run()
