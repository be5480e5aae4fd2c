import json
import logging
import os
import sys
import tempfile
from importlib.util import find_spec
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from playground import providers, queue
from playground.management.supervisor import Supervisor
from playground.ops import metrics
from playground.secretbox import SecretsUnreadable

log = logging.getLogger(__name__)

ROLES = ("web", "worker", "sweeper", "poller")


def production_problems() -> list[str]:
    """Why this process cannot run the production profile; empty when it can."""
    problems = []
    engine = settings.DATABASES["default"]["ENGINE"]
    if not settings.DATABASE_URL:
        problems.append("DATABASE_URL is not set (e.g. postgres://reelgate:...@db:5432/reelgate).")
    elif not engine.endswith("postgresql"):
        problems.append("DATABASE_URL must point at PostgreSQL (postgres://...).")
    if not settings.REDIS_URL:
        problems.append("REDIS_URL is not set (e.g. redis://redis:6379/0).")
    if find_spec("gunicorn") is None:
        problems.append("gunicorn is not installed (pip install -e . installs it).")
    return problems


def gunicorn_log_config() -> Path:
    """A logging configuration for gunicorn's --log-config-json: with
    LOG_FORMAT=json, gunicorn's own lines (its start, its workers' comings and
    goings) go out in the JSON of every other line, through the same handler.
    Its access lines stay off, as without it (the requests are in /metrics)."""
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": settings.LOGGING["filters"],
        "formatters": settings.LOGGING["formatters"],
        "handlers": settings.LOGGING["handlers"],
        "root": settings.LOGGING["root"],
        "loggers": {
            "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
    handle, path = tempfile.mkstemp(prefix="reelgate-gunicorn-log-", suffix=".json")
    with os.fdopen(handle, "w") as out:
        json.dump(config, out)
    return Path(path)


def gunicorn_argv(host: str, port: str, log_config: Path | None = None) -> list[str]:
    from gunicorn.config import KNOWN_SETTINGS

    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        f"--chdir={settings.BASE_DIR}",
        f"--bind={host}:{port}",
        f"--workers={settings.WEB_WORKERS}",
        # More than one thread makes gunicorn use its gthread worker. The
        # requests waiting for a result (`Prefer: wait`) have threads of their
        # own beside WEB_THREADS, as many as may wait (api/limits.py).
        f"--threads={settings.WEB_THREADS + settings.API_WAITS_PER_PROCESS}",
        f"--timeout={settings.WEB_TIMEOUT}",
        "--graceful-timeout=20",
        "--keep-alive=5",
        # A listening socket per worker (SO_REUSEPORT): the kernel spreads new
        # connections evenly over the workers. With one shared socket, the
        # worker that wakes first accepts them all, and long-lived keep-alive
        # clients then load one worker while the others idle (bench/README.md).
        # The price: connections still waiting in a worker's queue when that
        # worker is restarted (a timeout) are reset, and their clients retry.
        "--reuse-port",
    ]
    if log_config is not None:
        argv.append(f"--log-config-json={log_config}")
    if Path("/dev/shm").is_dir():  # the workers' heartbeat files, off a slow disk
        argv.append("--worker-tmp-dir=/dev/shm")
    if any(option.name == "control_socket_disable" for option in KNOWN_SETTINGS):
        # gunicorn 24+ opens a control socket at one fixed path per user, which
        # several servers on one machine would fight over.
        argv.append("--no-control-socket")
    return argv


class Command(BaseCommand):
    help = (
        "The production profile in the foreground: gunicorn, Q_CLUSTERS django-q2 clusters "
        "and the sweeper, on PostgreSQL (DATABASE_URL) and Redis (REDIS_URL). Ctrl-C stops "
        "them all; if one exits, the others are stopped too and the command fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument(
            "--roles",
            default=",".join(settings.SERVE_ROLES),
            help="what this machine runs, comma-separated: web, worker, sweeper, poller "
            "(default: SERVE_ROLES, or all three)",
        )

    def handle(self, *args, port, host, roles, **options):
        problems = production_problems()
        if problems:
            raise CommandError(
                "serve is the production profile and needs PostgreSQL and Redis:\n  "
                + "\n  ".join(problems)
                + "\nFor local development without them use `make run`."
            )
        try:
            providers.check_credentials_readable()
        except SecretsUnreadable as exc:
            raise CommandError(str(exc)) from None
        wanted = [role.strip() for role in roles.split(",") if role.strip()]
        unknown = sorted(set(wanted) - set(ROLES))
        if unknown or not wanted:
            raise CommandError(f"--roles: use some of {', '.join(ROLES)} (got {roles!r})")
        if settings.DEBUG:
            self.say("Warning: DEBUG is on; never in production.", level=logging.WARNING)

        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        # Every process counts into one directory, which /metrics adds up.
        env = metrics.multiprocess_env(os.environ)
        log_config = gunicorn_log_config() if settings.LOG_FORMAT == "json" else None
        try:
            self.run_roles(wanted, manage, env, host, port, log_config)
        finally:
            metrics.remove_multiprocess_dir(os.environ, env)
            if log_config is not None:
                log_config.unlink(missing_ok=True)

    def say(self, message: str, level: int = logging.INFO) -> None:
        """A line for the operator: in the log's JSON with LOG_FORMAT=json, else as text."""
        if settings.LOG_FORMAT == "json":
            log.log(level, message)
        else:
            (self.stderr if level >= logging.WARNING else self.stdout).write(message)

    def run_roles(
        self,
        wanted: list[str],
        manage: list[str],
        env: dict,
        host: str,
        port: str,
        log_config: Path | None,
    ) -> None:
        supervisor = Supervisor(stop_timeout=30)
        started = []
        if "web" in wanted:
            supervisor.start("gunicorn", gunicorn_argv(host, port, log_config), env)
            started.append(
                f"gunicorn on http://{host}:{port}/ "
                f"({settings.WEB_WORKERS} workers x {settings.WEB_THREADS} threads)"
            )
        if "worker" in wanted:
            for number in range(settings.Q_CLUSTERS):
                supervisor.start(f"qcluster-{number + 1}", [*manage, "qcluster"], env)
            started.append(
                f"{settings.Q_CLUSTERS} django-q2 cluster(s) of {settings.Q_CLUSTER['workers']} "
                "workers"
            )
            if settings.RENDER_WORKERS:
                supervisor.start("renders", [*manage, "qcluster"], queue.render_cluster_env(env))
                started.append(f"a render cluster of {settings.RENDER_WORKERS} workers")
        if "sweeper" in wanted:
            supervisor.start("sweeper", [*manage, "sweeper"], env)
            started.append("the sweeper")
        if "poller" in wanted and settings.POLLERS:
            for number in range(settings.POLLERS):
                supervisor.start(f"poller-{number + 1}", [*manage, "poller"], env)
            started.append(f"{settings.POLLERS} poller(s)")
        if not supervisor.children:
            raise CommandError("Nothing to run (Q_CLUSTERS=0 and no other role).")
        self.say("Reelgate (production profile): " + ", ".join(started) + ".")
        if "web" in wanted:
            self.say(
                f"For a load balancer: http://{host}:{port}/healthz (alive) and "
                f"http://{host}:{port}/readyz (ready; 503 names what fails)."
            )
        self.say("Ctrl-C stops them all.")
        exited = supervisor.run()
        if exited is not None:
            name, status = exited
            raise CommandError(f"{name} exited with status {status}; stopped the others.")
