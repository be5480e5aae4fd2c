import asyncio
import logging
import signal

from django.core.management.base import BaseCommand

from playground.poller import Poller

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Poll upstream providers for every generation in flight, concurrently "
        "(POLLER_CAPACITY at once, POLLER_PROVIDER_CONCURRENCY per provider)."
    )

    def handle(self, *args, **options):
        asyncio.run(self.serve())

    async def serve(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await Poller().run(stop)
