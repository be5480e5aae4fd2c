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

A poller claims, per provider, only what it can send now: that provider's
free slots, within its free capacity, the providers taking turns
(lifecycle.share_out). A claim beyond them would wait behind the provider's
other calls, its lease running out, until it had to be given back unpolled:
two writes for nothing and a later poll (bench/RESULTS.md, inflight: 4,880
of them in one run). When every slot of a provider is busy, the loop claims
again as soon as one frees.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
import threading
import time
from collections import Counter
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
# Once a slot frees, how long the loop waits for others to free before it
# claims again: those freed meanwhile are claimed in one batch, rather than
# one claim (three statements) per finished poll.
GATHER_SECONDS = 0.05


def claim_submits(holder: str, limit: int, room: lifecycle.Room | None = None) -> list[Generation]:
    """Take up to `limit` queued generations that services.submit left to the pollers,
    at most room(provider) for each one's first provider.

    Teams in turn (round robin) at each provider; each claimed as a worker
    claims it (lifecycle.claim: queuing → generating, under `holder`'s
    lease), so a worker that got the same generation some other way finds
    it taken.
    """
    now = timezone.now()
    queued = Generation.objects.filter(
        state=Generation.QUEUING, provider__isnull=False, next_poll_at__lte=now
    ).exclude(provider__kind__in=providers.render_kinds())  # the render queue's
    pks = lifecycle.share_out(queued, lifecycle.by_team_turn, limit, room)
    claimed = [lifecycle.claim(pk, holder) for pk in pks]
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
        # Claims in flight (from the claim to the end of their task), by provider.
        self.claimed: Counter[int] = Counter()
        self.freed = asyncio.Event()  # a claim's task ended: its slot is free
        # Claims let go of unsent (their lease ran short while they waited).
        self.given_back = 0
        # Still there for a submit that fails over to another provider, whose
        # slots were not counted when it was claimed.
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
                self.freed.clear()
                if await self.claim():
                    # Slots ran out with more perhaps due: claim again once one
                    # frees, with the others freed meanwhile.
                    await first_of(self.freed, stop, timeout=self.idle_seconds)
                    await first_of(stop, timeout=GATHER_SECONDS)
                else:
                    # Nothing more is due: look again soon.
                    await first_of(stop, timeout=self.idle_seconds)
            if self.running:
                await asyncio.wait(self.running, timeout=settings.GENERATION_LEASE_SECONDS / 2)
        self.database.shutdown(wait=True)

    async def claim(self) -> bool:
        """Claim what can be sent now and start it; whether some slots ran out."""
        free = self.capacity - len(self.running)
        if free > 0:
            holder = f"{self.name}:{next(self.batches)}"
            try:
                submits = await self.db(claim_submits, holder, free, self.room())
                self.start(self.submit, submits)
                polls = await self.db(
                    lifecycle.claim_polls, holder, free - len(submits), self.room()
                )
                self.start(self.poll, polls)
            except Exception:  # a database hiccup must not end the loop
                log.exception("claiming due work failed")
                return False
        return len(self.running) >= self.capacity or any(
            count >= self.per_provider for count in self.claimed.values()
        )

    def room(self) -> lifecycle.Room:
        """Each provider's free slots, as they are now (the claim reads them in another thread)."""
        claimed = dict(self.claimed)
        return lambda provider_id: self.per_provider - claimed.get(provider_id, 0)

    def start(self, work, generations: list[Generation]) -> None:
        for generation in generations:
            # A submit counts against its first provider, which its claim was made for.
            provider_id = generation.provider_id
            self.claimed[provider_id] += 1
            task = asyncio.create_task(work(generation))
            self.running.add(task)
            task.add_done_callback(partial(self.finished, provider_id))

    def finished(self, provider_id: int, task: asyncio.Task) -> None:
        self.running.discard(task)
        self.claimed[provider_id] -= 1
        if not self.claimed[provider_id]:
            del self.claimed[provider_id]
        self.freed.set()

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
                # The slot first, then the marker: a submit marked but kept
                # waiting past its lease would be taken for a lost one.
                async with self.slot(row.pk):
                    if not in_lease(generation, provider):
                        # The claim is too old to send a submit inside it: claimed anew later.
                        self.gave_back(generation, "submit")
                        at = timezone.now()
                        note = "lease ran short"
                        await self.db(lifecycle.requeue, generation.pk, holder, at, note)
                        return
                    if not await self.db(tasks.mark_submitting, generation, holder, row):
                        return
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
                    self.gave_back(generation, "poll")
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

    def gave_back(self, generation: Generation, what: str) -> None:
        # A sign the poller takes on more than it sends (a slow loop or a
        # busy database): each costs two writes and delays the call.
        self.given_back += 1
        log.warning(
            "%s of %s given back unsent: its lease ran short (%d so far)",
            what,
            generation.task_id,
            self.given_back,
        )

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


async def first_of(*events: asyncio.Event, timeout: float) -> None:
    """Wait until one of `events` is set, or `timeout` seconds have passed."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


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
