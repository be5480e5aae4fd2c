"""Every state change of a Generation happens here.

    queuing ──> generating ──> success   (hold captured: charged once)
       │            │     └──> fail      (hold released: nothing charged)
       └────────────┴────────> fail      (cancel, timeout, bad input)

services.submit() creates a generation already queuing, its credits held, in
the transaction that queues its run task (sent when it commits).

Each transition is a conditional UPDATE on the expected current state (and,
for a worker, on its lease) whose row count says whether this caller won; the
loser returns quietly. Money moves in the same transaction as the state, so a
generation is never successful without its charge, nor failed with a charge;
the usage rollup (playground/usage.py) counts it in that transaction too.
Each transition writes a GenerationEvent row.
"""

import logging
import os
import socket
import threading
from collections.abc import Callable
from contextlib import contextmanager
from datetime import timedelta
from itertools import islice, zip_longest

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max, Min, Q, QuerySet, Value, Window
from django.db.models.functions import Coalesce, Least, RowNumber
from django.utils import timezone

from accounts import ledger
from playground import notify, usage
from playground.models import Generation, GenerationEvent, Provider
from playground.ops import logs, metrics

log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def lease_until():
    return timezone.now() + timedelta(seconds=settings.GENERATION_LEASE_SECONDS)


def _event(generation_id: int, from_state: str, to_state: str, note: str = "", worker: str = ""):
    GenerationEvent.objects.create(
        generation_id=generation_id,
        from_state=from_state,
        to_state=to_state,
        note=note[:2000],
        worker=worker,
    )


def claimable(now) -> Q:
    """Generations a worker may take: queued, or left by a worker that died before
    anything went upstream (a generation with an upstream reference is polled)."""
    return Q(state=Generation.QUEUING) | Q(
        state=Generation.GENERATING, lease_expires_at__lt=now, upstream_ref=""
    )


def by_team_turn(generations: QuerySet[Generation]) -> QuerySet[Generation]:
    """Teams take turns: each team's oldest first, then each one's second...
    so one team's thousand queued never hold up another team's one."""
    turn = Window(RowNumber(), partition_by=[F("team_id")], order_by=F("pk").asc())
    return generations.annotate(turn=turn).order_by("turn", "pk")


# How far back claim_next looks for when a team was last served.
SERVED_WITHIN = timedelta(hours=1)


def claim_next(worker: str, kind: QuerySet[Generation], tries: int = 5) -> Generation | None:
    """Claim the next generation of `kind` to start: the team served least recently first.

    Fair share one claim at a time: the team whose last start (of this kind)
    is oldest, or that has none, goes first, its oldest generation first. So
    one team's thousand queued never hold up another team's one. Teams are
    ranked, not rows: two grouped queries (one while a single team waits),
    whatever the number of rows queued. A worker that loses the race for a
    team's oldest to another worker taking its turn at once tries the team's
    next few.
    """
    now = timezone.now()
    oldest = dict(
        kind.filter(claimable(now))
        .order_by()
        .values("team_id")
        .annotate(oldest=Min("pk"))
        .values_list("team_id", "oldest")
    )
    turns = list(oldest)
    if len(turns) > 1:  # one team waiting takes its turn without asking
        last_served = dict(
            kind.filter(team_id__in=turns, started_at__gte=now - SERVED_WITHIN)
            .order_by()
            .values("team_id")
            .annotate(last=Max("started_at"))
            .values_list("team_id", "last")
        )
        never = now - SERVED_WITHIN  # not served within the window: first in turn
        turns.sort(key=lambda team: (last_served.get(team, never), oldest[team]))
    for team in turns:
        generation = claim(oldest[team], worker)
        if generation is not None:
            return generation
        # Workers taking turns at once all saw the same oldest row: the losers
        # of that race try a few of the team's next ones.
        pks = (
            kind.filter(claimable(now), team_id=team)
            .order_by("pk")
            .values_list("pk", flat=True)[:tries]
        )
        for pk in list(pks):
            generation = claim(pk, worker)
            if generation is not None:
                return generation
    return None


def claim(generation_id: int, worker: str) -> Generation | None:
    """Take the generation for `worker`: from queuing, or from a dead worker.

    A generation already handed to an upstream (it has an upstream reference)
    is never claimed again: starting it twice would open a second paid
    upstream task. Those are polled instead (see claim_poll).
    """
    now = timezone.now()
    with transaction.atomic():
        before = Generation.objects.filter(pk=generation_id).values_list("state", flat=True).first()
        taken = (
            Generation.objects.filter(claimable(now), pk=generation_id)
            .filter(attempts__lt=settings.GENERATION_MAX_ATTEMPTS)
            .update(
                state=Generation.GENERATING,
                lease_holder=worker,
                lease_expires_at=now + timedelta(seconds=settings.GENERATION_LEASE_SECONDS),
                attempts=F("attempts") + 1,
                started_at=Coalesce("started_at", now),
                next_poll_at=None,
                updated_at=now,
            )
        )
        if not taken:
            return None
        generation = Generation.objects.select_related("provider", "owner").get(pk=generation_id)
        note = f"attempt {generation.attempts}"
        if before == Generation.GENERATING:
            note += " (the previous worker's lease expired)"
        _event(generation_id, before or "", Generation.GENERATING, note, worker)
        if generation.attempts == 1 and generation.callback_url:
            # Only a generation with a callback URL can have a start callback;
            # the others skip the hand-off and its query.
            _after_start(generation_id)
    with logs.task(generation.task_id):  # whoever claimed it, the line carries its id
        log.info("generation %s started: %s", generation.task_id, note)
    return generation


def claim_poll(generation_id: int, worker: str, poll_count: int) -> Generation | None:
    """Take an upstream generation for poll number `poll_count`.

    The count makes a duplicate delivery of the same poll task a no-op: each
    finished poll increments it.
    """
    now = timezone.now()
    taken = (
        Generation.objects.filter(
            pk=generation_id, state=Generation.GENERATING, poll_count=poll_count
        )
        .exclude(upstream_ref="")
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        # next_poll_at cleared: an upstream callback during the poll sets it (wake).
        .update(lease_holder=worker, lease_expires_at=lease_until(), next_poll_at=None)
    )
    if not taken:
        return None
    return Generation.objects.select_related("provider", "owner").get(pk=generation_id)


def poll_due(now) -> Q:
    """Upstream generations whose next poll is due and whose lease is free."""
    return (
        Q(state=Generation.GENERATING)
        & ~Q(upstream_ref="")
        & (Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        & (Q(next_poll_at__lte=now) | Q(next_poll_at__isnull=True))
    )


# How many more of a provider's generations a poller can send now (its free
# slots), by provider id; None: no limit but the batch's.
Room = Callable[[int], int]


def share_out(
    due: QuerySet[Generation],
    order: Callable[[QuerySet[Generation]], QuerySet[Generation]],
    limit: int,
    room: Room | None = None,
) -> list[int]:
    """The pks of `due` to claim: up to `limit`, at most room(provider) of each provider.

    Each provider's in `order`, the providers taking turns (each one's first,
    then each one's second...), the one with the most room first: so one
    provider's backlog never crowds another's work out of a batch, nor, when
    the batch is smaller than their backlogs, out of batch after batch.

    One query per provider with room, each served by an index (a provider's
    earliest due, or its few rows); asking which providers have work due
    (DISTINCT), or numbering every due row by provider (a window), reads
    the whole backlog instead: several times the cost at 10,000 in flight.
    """
    if limit <= 0:
        return []
    space_at = room or (lambda provider_id: limit)
    queues = []
    for provider_id in sorted(
        Provider.objects.order_by().values_list("pk", flat=True),
        key=lambda pk: (-space_at(pk), pk),
    ):
        space = min(limit, space_at(provider_id))
        if space > 0:
            mine = order(due.filter(provider_id=provider_id)).values_list("pk", flat=True)
            queues.append(list(mine[:space]))
    in_turn = (pk for turn in zip_longest(*queues) for pk in turn if pk is not None)
    return list(islice(in_turn, limit))


def earliest_due(polls: QuerySet[Generation]) -> QuerySet[Generation]:
    # Plain ascending, as the (state, next_poll_at) index runs: NULLS FIRST
    # would make PostgreSQL sort the provider's whole backlog.
    return polls.order_by("next_poll_at")


def claim_polls(holder: str, limit: int, room: Room | None = None) -> list[Generation]:
    """Take up to `limit` due polls for `holder` (a poller's batch), at most
    room(provider) of each provider; each provider's earliest due first.

    The same guarded UPDATE as claim_poll, for many at once: a row another
    poller took meanwhile is not ours.
    """
    now = timezone.now()
    pks = share_out(Generation.objects.filter(poll_due(now)), earliest_due, limit, room)
    if not pks:
        return []
    # The same condition again: a row another poller took meanwhile is not ours.
    # next_poll_at cleared: an upstream callback during the poll sets it (lifecycle.wake).
    Generation.objects.filter(poll_due(now), pk__in=pks).update(
        lease_holder=holder, lease_expires_at=lease_until(), next_poll_at=None
    )
    # prefetch: one Provider instance per provider, its credentials
    # decrypted once a batch rather than once a generation.
    return list(
        Generation.objects.prefetch_related("provider").filter(pk__in=pks, lease_holder=holder)
    )


def heartbeat(generation_id: int, worker: str, progress: int | None = None) -> bool:
    """Renew the worker's lease (and record progress). False: the lease was lost."""
    fields = {"lease_expires_at": lease_until(), "updated_at": timezone.now()}
    if progress is not None:
        fields["progress"] = max(0, min(99, int(progress)))
    kept = Generation.objects.filter(
        pk=generation_id, state=Generation.GENERATING, lease_holder=worker
    ).update(**fields)
    return bool(kept)


@contextmanager
def keep_lease(generation_id: int, worker: str):
    """Renew the lease from a background thread while the block runs.

    A lease means "this worker is alive", not "this worker reported progress":
    a slow upstream submit or a large result download must not let the
    sweeper hand the generation to a second worker. A hung worker is still
    bounded by the generation's deadline.
    """
    stop = threading.Event()
    period = max(0.5, settings.GENERATION_LEASE_SECONDS / 3)

    def renew() -> None:
        try:
            while not stop.wait(period):
                if not heartbeat(generation_id, worker):
                    return
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=renew, name=f"lease-{generation_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def handed_upstream(
    generation_id: int,
    worker: str,
    provider_id: int,
    reference: str,
    first_poll_at,
    *,
    state: dict | None = None,
) -> bool:
    """The upstream accepted the task: remember its reference (and state) and when to poll."""
    with transaction.atomic():
        kept = Generation.objects.filter(
            pk=generation_id, state=Generation.GENERATING, lease_holder=worker
        ).update(
            provider_id=provider_id,
            upstream_ref=reference,
            upstream_state=state or {},
            next_poll_at=_sooner(first_poll_at),
            lease_holder="",
            lease_expires_at=None,
            updated_at=timezone.now(),
        )
        if kept:
            _event(
                generation_id,
                Generation.GENERATING,
                Generation.GENERATING,
                f"submitted upstream as {reference}",
                worker,
            )
    return bool(kept)


def requeue(
    generation_id: int, worker: str, at, note: str, *, to_workers: bool = False, renderer=None
) -> bool:
    """generating → queuing until `at`, before anything was submitted upstream.

    For every provider asking for time (a rate limit), or, `to_workers`, for
    the poller that met a provider only a worker runs: the provider is then
    cleared (or set to the `renderer` that makes it next, whose queue takes
    it), so the pollers leave it to the workers. The attempt is given back:
    it was no worker's failure, and the sweeper (or a poller) sends the
    generation again once `at` has passed.
    """
    fields = {"provider": renderer} if to_workers else {}
    with transaction.atomic():
        kept = Generation.objects.filter(
            pk=generation_id, state=Generation.GENERATING, lease_holder=worker, upstream_ref=""
        ).update(
            state=Generation.QUEUING,
            next_poll_at=at,
            lease_holder="",
            lease_expires_at=None,
            attempts=F("attempts") - 1,
            updated_at=timezone.now(),
            **fields,
        )
        if kept:
            _event(generation_id, Generation.GENERATING, Generation.QUEUING, note, worker)
    return bool(kept)


def schedule_poll(generation_id: int, worker: str, at, *, progress=None, error=False) -> bool:
    """Release a polled generation until its next poll."""
    fields = {
        "next_poll_at": _sooner(at),
        "lease_holder": "",
        "lease_expires_at": None,
        "poll_count": F("poll_count") + 1,
        "poll_errors": F("poll_errors") + 1 if error else 0,
        "updated_at": timezone.now(),
    }
    if progress is not None:
        fields["progress"] = max(0, min(99, int(progress)))
    kept = Generation.objects.filter(
        pk=generation_id, state=Generation.GENERATING, lease_holder=worker
    ).update(**fields)
    return bool(kept)


def wake(generation_id: int) -> bool:
    """An upstream called back: poll the generation now.

    Also while it is being submitted or polled: the transition that ends
    that (handed_upstream, schedule_poll) keeps the sooner of the two times
    (`_sooner`), so a callback that beats the submit's answer is not lost.
    """
    woken = Generation.objects.filter(pk=generation_id, state=Generation.GENERATING).update(
        next_poll_at=timezone.now()
    )
    return bool(woken)


def _sooner(at):
    """`at`, or the wake-up time a callback set meanwhile when that is sooner."""
    return Least(Coalesce(F("next_poll_at"), Value(at)), Value(at))


def release_poll(generation_id: int, worker: str, at, *, state: dict | None = None) -> bool:
    """Let go of a polled generation without counting a poll: another hand takes it up.

    `state`, when given, replaces upstream_state (the result a poll found ready).
    """
    fields = {"upstream_state": state} if state is not None else {}
    kept = Generation.objects.filter(
        pk=generation_id, state=Generation.GENERATING, lease_holder=worker
    ).update(
        next_poll_at=at, lease_holder="", lease_expires_at=None, updated_at=timezone.now(), **fields
    )
    return bool(kept)


def _closing(now) -> dict:
    """What every finishing transition writes: the lease and the polling end with it."""
    return {
        "completed_at": now,
        "updated_at": now,
        "lease_holder": "",
        "lease_expires_at": None,
        "next_poll_at": None,
    }


def succeed(generation_id: int, worker: str, **result) -> bool:
    """generating → success, and charge the held credits exactly once."""
    now = timezone.now()
    with transaction.atomic():
        won = Generation.objects.filter(
            pk=generation_id, state=Generation.GENERATING, lease_holder=worker
        ).update(state=Generation.SUCCESS, progress=100, **_closing(now), **result)
        if not won:
            return False
        generation = _settled(generation_id)
        entry = ledger.capture(generation.hold_reference, note=f"generation {generation.task_id}")
        charged = -entry.amount if entry is not None else ledger.ZERO
        Generation.objects.filter(pk=generation_id).update(charged_credits=charged)
        usage.record(generation, charged)
        _event(
            generation_id, Generation.GENERATING, Generation.SUCCESS, f"charged {charged}", worker
        )
        _after_finish(generation_id)
        metrics.generation_succeeded(
            generation.model_id,
            _provider_name(generation),
            (now - generation.created_at).total_seconds(),
            charged,
        )
    with logs.task(generation.task_id):
        log.info("generation %s succeeded: charged %s", generation.task_id, charged)
    return True


def fail(
    generation_id: int,
    code: str,
    message: str,
    *,
    worker: str | None = None,
    from_states=Generation.UNFINISHED,
) -> bool:
    """Any unfinished state → fail, releasing the hold: nothing is charged.

    With `worker`, only while that worker holds the lease.
    """
    now = timezone.now()
    rows = Generation.objects.filter(pk=generation_id, state__in=from_states)
    if worker is not None:
        rows = rows.filter(lease_holder=worker)
    with transaction.atomic():
        before = rows.values_list("state", flat=True).first()
        if before is None:
            return False
        won = rows.filter(state=before).update(
            state=Generation.FAIL, fail_code=code, fail_msg=message[:5000], **_closing(now)
        )
        if not won:
            return False
        generation = _settled(generation_id)
        entry = ledger.release(generation.hold_reference, note=f"{code}: nothing charged")
        usage.record(generation)
        _event(generation_id, before, Generation.FAIL, f"{code}: {message}", worker or "")
        _after_finish(generation_id)
        released = -entry.held_change if entry is not None else ledger.ZERO
        metrics.generation_failed(generation.model_id, _provider_name(generation), code, released)
    with logs.task(generation.task_id):
        log.info("generation %s failed: %s %s", generation.task_id, code, message)
    return True


def _settled(generation_id: int) -> Generation:
    """What a finishing transition reads back: for its ledger note, its counts
    and its usage row (usage.record)."""
    # The provider's name, the key's prefix and the team's time zone in the
    # same query: joins, not more round trips.
    return (
        Generation.objects.select_related("provider", "api_key", "team")
        .only(
            "task_id",
            "model_id",
            "owner",
            "state",
            "fail_code",
            "created_at",
            "completed_at",
            "provider__name",
            "api_key__prefix",
            "team__time_zone",
        )
        .get(pk=generation_id)
    )


def _provider_name(generation: Generation) -> str:
    return generation.provider.name if generation.provider is not None else ""


# The deliveries a transition owes are made inside its transaction: a worker
# killed right after the commit leaves them behind as rows, which the
# sweeper sends; made after the commit, they could be lost with the worker.
# Sending them waits for the commit.


def _after_start(generation_id: int) -> None:
    notify.generation_started(generation_id)


def _after_finish(generation_id: int) -> None:
    notify.generation_finished(generation_id)


# Hand-offs the sweeper repeats, and the marks around a submit. None changes
# the state; each is still written down, for whoever reads the events.


def redispatch(generation_id: int, now, until) -> bool:
    """A queued generation whose run task never reached a worker: the caller sends it again.

    Guarded on next_poll_at, so two sweepers never both send it; until `until`
    it is not sent again.
    """
    kept = Generation.objects.filter(
        pk=generation_id, state=Generation.QUEUING, next_poll_at__lte=now
    ).update(next_poll_at=until, updated_at=now)
    if kept:
        _event(generation_id, Generation.QUEUING, Generation.QUEUING, "sent to the workers again")
    return bool(kept)


def rerun(generation_id: int, now, until) -> bool:
    """Local work whose worker died (its lease ran out): the caller sends it again.

    The lease stays expired so the next claim can take it over; next_poll_at
    keeps the sweeper from sending it again before `until`.
    """
    kept = (
        Generation.objects.filter(
            pk=generation_id, state=Generation.GENERATING, lease_expires_at__lt=now
        )
        .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
        .update(next_poll_at=until, updated_at=now)
    )
    if kept:
        note = "the worker stopped (its lease ran out); sent to the workers again"
        _event(generation_id, Generation.GENERATING, Generation.GENERATING, note)
    return bool(kept)


def submitting(generation_id: int, worker: str, provider, marker: str) -> bool:
    """Mark the generation as being submitted to `provider`, before the request goes out.

    A worker that dies before it learns the upstream's answer leaves the
    marker behind, and the generation fails as ambiguous instead of being
    submitted (and paid) twice. False: the worker no longer holds it.
    """
    kept = Generation.objects.filter(
        pk=generation_id, state=Generation.GENERATING, lease_holder=worker
    ).update(provider=provider, upstream_ref=marker)
    if kept:
        note = f"submitting to {provider.name}"
        _event(generation_id, Generation.GENERATING, Generation.GENERATING, note, worker)
    return bool(kept)


def submit_refused(generation_id: int, worker: str, reason: str) -> None:
    """The provider took nothing: the marker goes, so another provider may be tried."""
    kept = Generation.objects.filter(pk=generation_id, lease_holder=worker).update(upstream_ref="")
    if kept:
        note = f"refused: {reason}"
        _event(generation_id, Generation.GENERATING, Generation.GENERATING, note, worker)


def soft_delete(generation_id: int) -> bool:
    """A finished generation's files go; the row stays, marked deleted, as the
    record of what was made and charged. False: unfinished or already deleted."""
    now = timezone.now()
    kept = Generation.objects.filter(
        pk=generation_id, state__in=Generation.FINISHED, deleted_at__isnull=True
    ).update(deleted_at=now, video="", poster="", updated_at=now)
    if kept:
        state = Generation.objects.values_list("state", flat=True).get(pk=generation_id)
        _event(generation_id, state, state, "deleted: its files removed, the record kept")
    return bool(kept)
