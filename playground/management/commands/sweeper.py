import logging
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from playground.sweeper import sweep

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Every SWEEP_SECONDS: time out overdue generations, re-dispatch lost tasks, "
        "recover work of dead workers and dispatch due upstream polls."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="sweep once and exit")

    def handle(self, *args, once=False, **options):
        running = True

        def stop(signum, frame):
            nonlocal running
            running = False

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while running:
            close_old_connections()
            try:
                counts = sweep()
                if any(counts.values()):
                    log.info("sweep: %s", counts)
            except Exception:  # a database hiccup must not end the loop
                log.exception("sweep failed")
            if once:
                break
            time.sleep(settings.SWEEP_SECONDS)
