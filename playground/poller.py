"""The poller: every due upstream poll in flight at once, on one asyncio loop.

A worker that polls waits out each upstream answer, so a few workers cap the
polls at workers ÷ latency. The poller instead claims due polls from the
database in batches and sends them concurrently over one pooled
`httpx.AsyncClient`, at most POLLER_CAPACITY at a time and
POLLER_PROVIDER_CONCURRENCY per provider.

What a poll means is decided where it always was: the provider module reads
the answers (`UpstreamProvider.polling`, whose steps this loop drives instead
of a worker), and playground/tasks.py acts on the outcome through lifecycle,
in a small thread pool (the database is not async). A result found ready is
handed to a worker, which copies it: the poller never downloads videos.

Claims are the same guarded UPDATE on the lease that workers use, each batch
under a holder name of its own, so several pollers on several machines never
poll one generation at once; a poller killed mid-batch leaves leases that
expire, and the next claim takes those polls up.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from playground import lifecycle, outbound, providers, queue, tasks
from playground.models import Generation
from playground.ops import logs
from playground.providers.base import PollError, SubmitRefused
from playground.providers.upstream import Steps, UpstreamProvider

log = logging.getLogger(__name__)

# Connections per httpx pool (see Poller.run).
CONNECTIONS_PER_POOL = 25


def claim_submits(holder: str, limit: int) -> list[Generation]:
    """Take up to `limit` queued generations that services.submit left to the pollers.

    Teams in turn (round robin); each claimed as a worker claims it
    (lifecycle.claim: queuing → generating, under `holder`'s lease), so a
    worker that got the same generation some other way finds it taken.
    """
    now = timezone.now()
    queued = Generation.objects.filter(
        state=Generation.QUEUING, provider__isnull=False, next_poll_at__lte=now
    ).exclude(provider__kind__in=providers.render_kinds())  # the render queue's
    pks = lifecycle.by_team_turn(queued).values_list("pk", flat=True)[:limit]
    claimed = [lifecycle.claim(pk, holder) for pk in list(pks)]
    return [generation for generation in claimed if generation is not None]


def routed(model_id: str) -> list:
    """The model's providers in order, their credentials read here, off the event loop."""
    rows = providers.route(model_id)
    for row in rows:
        row.refresh_from_db(fields=["credentials"])
    return rows


def to_workers(generation: Generation, holder: str, row) -> None:
    """A provider the loop cannot drive comes next (the local renderer): a worker runs it all."""
    at = queue.redispatch_at(timezone.now())
    render = providers.renders(row)
    renderer = row if render else None
    if lifecycle.requeue(
        generation.pk, holder, at, "to the workers", to_workers=True, renderer=renderer
    ):
        queue.run(generation.pk, render=render)


class Poller:
    def __init__(
        self,
        *,
        capacity: int | None = None,
        per_provider: int | None = None,
        idle_seconds: float = 0.5,
        database_threads: int = 4,
    ) -> None:
        self.capacity = capacity or settings.POLLER_CAPACITY
        self.per_provider = per_provider or settings.POLLER_PROVIDER_CONCURRENCY
        self.idle_seconds = idle_seconds
        self.database = ThreadPoolExecutor(database_threads, thread_name_prefix="poller-db")
        self.name = f"{lifecycle.worker_name()}:poller"
        self.batches = itertools.count(1)
        self.running: set[asyncio.Task] = set()
        self.slots: dict[int, asyncio.Semaphore] = {}
        self.clients = self.submit_clients = None

    async def run(self, stop: asyncio.Event) -> None:
        # httpx's pool looks over every connection it holds for each request
        # it places: one pool of a thousand costs more CPU than the calls
        # themselves. So the connections are spread over small pools, and
        # requests over the pools in turn.
        shards = max(1, self.capacity // CONNECTIONS_PER_POOL)
        size = -(-self.capacity // shards)
        async with AsyncExitStack() as stack:
            kept = [
                await stack.enter_async_context(
                    outbound.upstream_client(max_connections=size, per_host=size)
                )
                for _ in range(shards)
            ]
            # Polls share kept-alive connections; each submit gets a new one.
            fresh = [
                await stack.enter_async_context(
                    outbound.upstream_client(max_connections=size, per_host=0)
                )
                for _ in range(shards)
            ]
            self.clients, self.submit_clients = itertools.cycle(kept), itertools.cycle(fresh)
            while not stop.is_set():
                free = self.capacity - len(self.running)
                claimed = []
                if free > 0:
                    holder = f"{self.name}:{next(self.batches)}"
                    try:
                        submits = await self.db(claim_submits, holder, free)
                        polls = await self.db(lifecycle.claim_polls, holder, free - len(submits))
                        claimed = [(self.submit, g) for g in submits] + [
                            (self.poll, g) for g in polls
                        ]
                    except Exception:  # a database hiccup must not end the loop
                        log.exception("claiming due work failed")
                for work, generation in claimed:
                    task = asyncio.create_task(work(generation))
                    self.running.add(task)
                    task.add_done_callback(self.running.discard)
                if len(claimed) < free or free <= 0:
                    # Nothing more is due (or every slot is busy): look again soon.
                    try:
                        await asyncio.wait_for(stop.wait(), self.idle_seconds)
                    except TimeoutError:
                        pass
            if self.running:
                await asyncio.wait(self.running, timeout=settings.GENERATION_LEASE_SECONDS / 2)
        self.database.shutdown(wait=True)

    async def submit(self, generation: Generation) -> None:
        """tasks._run's loop over the model's providers, each submit sent from here."""
        # Each submit and poll is an asyncio task of its own, with its own
        # context: the task id stays with this generation's log records.
        with logs.task(generation.task_id):
            await self._submit(generation)

    async def _submit(self, generation: Generation) -> None:
        holder = generation.lease_holder
        try:
            if await self.db(tasks.blocked, generation, holder):
                return
            tried = tasks.Attempts()
            for row in await self.db(routed, generation.model_id):
                provider = providers.for_row(row)
                if not getattr(provider, "submits_from_poller", False):
                    await self.db(to_workers, generation, holder, row)
                    return
                if not in_lease(generation, provider):
                    # The claim is too old to send a submit inside it: claimed anew later.
                    at = timezone.now()
                    await self.db(lifecycle.requeue, generation.pk, holder, at, "lease ran short")
                    return
                if not await self.db(tasks.mark_submitting, generation, holder, row):
                    return
                async with self.slot(row.pk):
                    try:
                        steps = provider.submitting(generation)
                        outcome = await self.drive(provider, steps, next(self.submit_clients))
                    except SubmitRefused as exc:
                        await self.db(tried.refused, generation, holder, row, exc)
                        continue
                await self.db(tasks.started, generation, holder, row, provider, outcome, None)
                return
            await self.db(tried.give_up, generation, holder)
        except Exception as exc:
            await self.db(tasks.run_crashed, generation, holder, exc)

    async def poll(self, generation: Generation) -> None:
        with logs.task(generation.task_id):
            await self._poll(generation)

    async def _poll(self, generation: Generation) -> None:
        holder = generation.lease_holder
        try:
            provider = providers.for_row(generation.provider)
            if (
                not isinstance(provider, UpstreamProvider)
                or tasks.READY in generation.upstream_state
            ):
                # Nothing this loop can poll, or a result already seen ready
                # whose copy was lost or is still queued: not asked again.
                await self.db(tasks.hand_to_worker, generation, holder)
                return
            if generation.upstream_ref.startswith(tasks.SUBMITTING):
                await self.db(tasks.submit_was_lost, generation, holder)
                return
            async with self.slot(generation.provider_id):
                if not in_lease(generation, provider):
                    # Waited too long (for a slot, or a busy loop): the lease
                    # could end mid-call and another poller take the poll.
                    await self.db(lifecycle.release_poll, generation.pk, holder, timezone.now())
                    return
                try:
                    steps = provider.polling(generation, None)
                    outcome = await self.drive(provider, steps, next(self.clients))
                except PollError as exc:
                    await self.db(tasks.poll_failed, generation, holder, exc)
                    return
            await self.db(tasks.polled, generation, holder, outcome, None)
        except Exception as exc:
            await self.db(tasks.poll_crashed, generation, holder, exc)

    async def drive(self, provider: UpstreamProvider, steps: Steps, client):
        """A submit's or a poll's steps, each call answered over `client`."""
        try:
            call = next(steps)
            while True:
                try:
                    answer = await provider.exchange_async(client, call)
                except (outbound.FetchError, outbound.UnsafeURL) as exc:
                    call = steps.throw(exc)
                else:
                    call = steps.send(answer)
        except StopIteration as done:
            return done.value

    def slot(self, provider_id: int) -> asyncio.Semaphore:
        if provider_id not in self.slots:
            self.slots[provider_id] = asyncio.Semaphore(self.per_provider)
        return self.slots[provider_id]

    async def db(self, function, *args):
        """Run database work in the pool, on a connection that is still good.

        In the calling task's context (run_in_executor does not carry it), so
        its log records keep their task id.
        """
        loop = asyncio.get_running_loop()
        work = partial(contextvars.copy_context().run, _with_connection, function, *args)
        return await loop.run_in_executor(self.database, work)


def in_lease(generation: Generation, provider: UpstreamProvider) -> bool:
    """Whether a call sent now ends, answered or timed out, before the claim's lease does."""
    sent_by = timezone.now() + timedelta(seconds=provider.seconds)
    return generation.lease_expires_at is not None and sent_by < generation.lease_expires_at


_checked = threading.local()
# How often a database thread drops connections that are broken or past
# CONN_MAX_AGE: on every call, SQLite's (CONN_MAX_AGE 0) would reconnect each time.
CONNECTION_CHECK_SECONDS = 10.0


def _with_connection(function, *args):
    now = time.monotonic()
    if now - getattr(_checked, "at", 0.0) > CONNECTION_CHECK_SECONDS:
        close_old_connections()
        _checked.at = now
    return function(*args)
