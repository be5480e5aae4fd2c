"""django-q2 task functions. Each takes an id, re-reads the row and acts only
if the row says the work is still its to do.

django-q2 delivers at least once: the same task can run twice, or after a
worker was killed. Claims (playground/lifecycle.py) make the second run a
no-op, and a generation already submitted upstream is only ever polled,
never submitted again.
"""

import logging
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from playground import lifecycle, moderation, providers, queue, results
from playground.models import Generation
from playground.ops import logs, metrics
from playground.outbound import FetchError, UnsafeURL
from playground.providers import breaker
from playground.providers.base import (
    Failed,
    LeaseLost,
    PollError,
    Running,
    SubmitRefused,
    Succeeded,
)

log = logging.getLogger(__name__)

# The first marker an upstream reference gets, written before the submit
# request goes out: a worker that dies before learning the real reference
# leaves this behind, and the generation fails as ambiguous instead of being
# submitted (and paid) twice.
SUBMITTING = "submitting:"
# The upstream_state key of a result the poller saw ready (Succeeded.as_ready).
READY = "ready"
# Progress is written at most this often while rendering.
HEARTBEAT_SECONDS = 1.0


def run_generation(generation_id: int) -> None:
    """A turn of the workers' queue, sent for `generation_id`: the worker starts the
    next queued generation the workers route (no provider chosen at submit), teams
    in turn; this one if there is no other (it was, say, a render handed back).

    Every queued generation sends one such turn, so each gets started, just
    not always by its own: one team's thousand queued never hold up another
    team's one.
    """
    worker = lifecycle.worker_name()
    routed_here = Generation.objects.filter(provider__isnull=True)
    generation = lifecycle.claim_next(worker, routed_here) or lifecycle.claim(generation_id, worker)
    if generation is not None:
        with logs.task(generation.task_id):
            _work(generation, worker)


def render_next() -> None:
    """A turn of the render queue: the next render to make, teams in turn."""
    worker = lifecycle.worker_name()
    renders = Generation.objects.filter(provider__kind__in=providers.render_kinds())
    generation = lifecycle.claim_next(worker, renders)
    if generation is not None:
        with logs.task(generation.task_id):
            _work(generation, worker)


def _work(generation: Generation, worker: str) -> None:
    try:
        with lifecycle.keep_lease(generation.pk, worker):
            _run(generation, worker)
    except LeaseLost:
        log.warning("lost the lease on %s; another worker has it", generation.task_id)
    except Exception as exc:
        run_crashed(generation, worker, exc)


def run_crashed(generation: Generation, worker: str, exc: Exception) -> None:
    log.exception("generation %s crashed", generation.task_id)
    lifecycle.fail(
        generation.pk, Generation.FailCode.INTERNAL_ERROR, f"Internal error: {exc}", worker=worker
    )


def _run(generation: Generation, worker: str) -> None:
    if blocked(generation, worker):
        return
    progress = _progress_reporter(generation.pk, worker)
    tried = Attempts()
    with tempfile.TemporaryDirectory(prefix="reelgate-") as tmp:
        workdir = Path(tmp)
        for row in providers.route(generation.model_id):
            provider = providers.for_row(row)
            if provider.asynchronous and not mark_submitting(generation, worker, row):
                return
            try:
                outcome = provider.start(generation, workdir, progress)
            except SubmitRefused as exc:
                tried.refused(generation, worker, row, exc)
                continue
            started(generation, worker, row, provider, outcome, workdir)
            return
    tried.give_up(generation, worker)


def blocked(generation: Generation, worker: str) -> bool:
    """A prompt with a blocked term fails before any provider sees it."""
    term = moderation.blocked_term(
        generation.prompt, str(generation.input.get("negative_prompt", ""))
    )
    if term is None:
        return False
    lifecycle.fail(
        generation.pk,
        Generation.FailCode.CONTENT_VIOLATION,
        f"The prompt contains a blocked term ({term!r}).",
        worker=worker,
    )
    return True


class Attempts:
    """The refusals of one generation's providers, and what follows when all refused."""

    def __init__(self) -> None:
        self.refusals: list[str] = []
        self.waits: list[float] = []

    def refused(self, generation: Generation, worker: str, row, exc: SubmitRefused) -> None:
        self.refusals.append(f"{row.name}: {exc}")
        lifecycle.submit_refused(generation.pk, worker, f"{row.name}: {exc}")
        if exc.provider_fault:
            breaker.failed(row.pk, f"submit refused: {exc}")
        if exc.retry_after is not None:
            self.waits.append(exc.retry_after)

    def give_up(self, generation: Generation, worker: str) -> None:
        message = "; ".join(self.refusals) or "No provider serves this model."
        if self.waits and _before_deadline(generation, min(self.waits)):
            # Every provider is busy, and one said when to come back: the
            # generation waits in the queue for it instead of failing.
            at = _in(min(self.waits))
            lifecycle.requeue(generation.pk, worker, at, f"all refused: {message}")
            return
        lifecycle.fail(generation.pk, Generation.FailCode.UPSTREAM_ERROR, message, worker=worker)


def started(
    generation: Generation, worker: str, row, provider, outcome, workdir: Path | None
) -> None:
    """Act on what a provider's start concluded (and tell its breaker)."""
    if provider.asynchronous:
        if isinstance(outcome, Failed) and outcome.code == Generation.FailCode.UPSTREAM_AMBIGUOUS:
            breaker.failed(row.pk, outcome.message)
        else:
            breaker.answered(row.pk)
    _settle(generation, worker, row, outcome, workdir)


def _before_deadline(generation: Generation, seconds: float) -> bool:
    return generation.deadline_at is None or _in(seconds) < generation.deadline_at


def mark_submitting(generation: Generation, worker: str, row) -> bool:
    return lifecycle.submitting(generation.pk, worker, row, SUBMITTING + row.name[:150])


def _progress_reporter(generation_id: int, worker: str):
    last = {"at": 0.0, "percent": -1}

    def report(percent: int) -> bool:
        now = time.monotonic()
        if now - last["at"] < HEARTBEAT_SECONDS and percent < 100:
            return True
        last.update(at=now, percent=percent)
        return lifecycle.heartbeat(generation_id, worker, percent)

    return report


def _settle(generation: Generation, worker: str, row, outcome, workdir: Path) -> None:
    """Act on a provider's outcome: store and charge, hand upstream, or fail."""
    if isinstance(outcome, Succeeded):
        try:
            fields = _copied(generation, row, outcome, workdir)
        except CopyFailed as exc:
            lifecycle.fail(
                generation.pk,
                Generation.FailCode.UPSTREAM_ERROR,
                f"The result could not be stored: {exc}",
                worker=worker,
            )
            return
        lifecycle.succeed(generation.pk, worker, provider_id=row.pk, **fields)
    elif isinstance(outcome, Running):
        delay = outcome.retry_after or settings.POLL_FIRST_SECONDS
        lifecycle.handed_upstream(
            generation.pk, worker, row.pk, outcome.reference, _in(delay), state=outcome.state
        )
    elif isinstance(outcome, Failed):
        lifecycle.fail(generation.pk, outcome.code, outcome.message, worker=worker)


class CopyFailed(Exception):
    """The result could not be fetched or stored."""


def _copied(generation: Generation, row, outcome: Succeeded, workdir: Path) -> dict:
    """Store the result's files; the fields lifecycle.succeed() writes. Raises CopyFailed."""
    try:
        fields = results.store(generation, outcome, workdir)
    # UnsafeURL too (a result URL redirecting to ftp:// or to a URL with
    # credentials): left to propagate, it crashed the poll task, and the
    # sweeper polled and crashed again until the deadline.
    except (results.ResultError, FetchError, UnsafeURL) as exc:
        raise CopyFailed(str(exc)) from exc
    cost = outcome.cost_usd if outcome.cost_usd is not None else row.cost_for(generation.model_id)
    return {**fields, "upstream_cost_usd": cost}


def poll_generation(generation_id: int, poll_count: int) -> None:
    """Poll an upstream generation here, waiting on the answer: when no poller runs,
    and for a result the poller found ready (this worker copies it)."""
    worker = lifecycle.worker_name()
    generation = lifecycle.claim_poll(generation_id, worker, poll_count)
    if generation is not None:
        with logs.task(generation.task_id):
            _poll(generation, worker)


def _poll(generation: Generation, worker: str) -> None:
    if submit_was_lost(generation, worker):
        return
    try:
        with lifecycle.keep_lease(generation.pk, worker):
            with tempfile.TemporaryDirectory(prefix="reelgate-") as tmp:
                if _copied_as_seen(generation, worker, Path(tmp)):
                    return
                provider = providers.for_row(generation.provider)
                try:
                    outcome = provider.poll(generation, Path(tmp))
                except PollError as exc:
                    poll_failed(generation, worker, exc)
                    return
                polled(generation, worker, outcome, Path(tmp))
    except Exception as exc:
        poll_crashed(generation, worker, exc)


def _copied_as_seen(generation: Generation, worker: str, workdir: Path) -> bool:
    """Copy the result the poller saw ready, without asking the upstream again.

    False when there is none, or when its URL no longer serves it (a signed
    URL that expired while the copy queued): a fresh poll then gets a new one.
    """
    ready = generation.upstream_state.get(READY)
    if not ready:
        return False
    try:
        fields = _copied(generation, generation.provider, Succeeded.from_ready(ready), workdir)
    except CopyFailed as exc:
        log.warning("the result seen ready for %s failed (%s); polling again", generation, exc)
        return False
    breaker.answered(generation.provider_id)
    lifecycle.succeed(generation.pk, worker, provider_id=generation.provider_id, **fields)
    return True


def submit_was_lost(generation: Generation, worker: str) -> bool:
    """A submit whose worker died before it learnt the answer: failed, never resent."""
    if not generation.upstream_ref.startswith(SUBMITTING):
        return False
    lifecycle.fail(
        generation.pk,
        Generation.FailCode.UPSTREAM_AMBIGUOUS,
        "The worker stopped while submitting upstream; the upstream may have "
        "accepted the task. It was not resubmitted, to avoid paying twice.",
        worker=worker,
    )
    return True


def polled(generation: Generation, worker: str, outcome, workdir: Path | None) -> None:
    """Act on a poll's outcome: poll again later, store and charge, or fail.

    Without a workdir (the poller), a success is handed to a worker, which
    copies the result: the poller never downloads videos. Its URLs are kept
    in upstream_state (READY) so the worker need not ask the upstream again.
    """
    breaker.answered(generation.provider_id, seen=generation.provider)
    _count_poll(generation, POLL_OUTCOMES.get(type(outcome), "failed"))
    if isinstance(outcome, Running):
        progress = outcome.progress if outcome.progress is not None else _estimate(generation)
        delay = outcome.retry_after or _backoff(generation.poll_count + 1)
        lifecycle.schedule_poll(generation.pk, worker, _in(delay), progress=progress)
    elif isinstance(outcome, Succeeded) and workdir is None:
        ready = outcome.as_ready()
        state = {**generation.upstream_state, READY: ready} if ready else None
        hand_to_worker(generation, worker, state=state)
    else:
        _settle(generation, worker, generation.provider, outcome, workdir or Path())


def hand_to_worker(generation: Generation, worker: str, *, state: dict | None = None) -> None:
    """A worker polls (or copies) this generation next; redispatched if the task is lost."""
    if lifecycle.release_poll(
        generation.pk, worker, queue.redispatch_at(timezone.now()), state=state
    ):
        queue.enqueue("playground.tasks.poll_generation", generation.pk, generation.poll_count)


POLL_OUTCOMES = {Running: "running", Succeeded: "succeeded", Failed: "failed"}


def _count_poll(generation: Generation, outcome: str) -> None:
    provider = generation.provider.name if generation.provider is not None else ""
    metrics.poll_done(provider, outcome)


def poll_failed(generation: Generation, worker: str, exc: PollError) -> None:
    breaker.failed(generation.provider_id, f"poll failed: {exc}")
    _count_poll(generation, "error")
    if generation.poll_errors + 1 >= settings.POLL_ERROR_BUDGET:
        lifecycle.fail(
            generation.pk,
            Generation.FailCode.UPSTREAM_ERROR,
            f"The upstream could not be reached {generation.poll_errors + 1} times in a "
            f"row (last: {exc}). Upstream task {generation.upstream_ref}.",
            worker=worker,
        )
    else:
        delay = exc.retry_after or _backoff(generation.poll_errors + 1)
        lifecycle.schedule_poll(generation.pk, worker, _in(delay), error=True)


def poll_crashed(generation: Generation, worker: str, exc: Exception) -> None:
    # Without this the same crashing poll would come back again and again
    # until the deadline.
    log.exception("polling %s crashed", generation.task_id)
    _count_poll(generation, "crashed")
    lifecycle.fail(
        generation.pk,
        Generation.FailCode.INTERNAL_ERROR,
        f"Internal error while polling upstream task {generation.upstream_ref}: {exc}",
        worker=worker,
    )


def _backoff(n: int) -> float:
    return min(settings.POLL_MAX_SECONDS, 2 ** min(n, 10))


def _estimate(generation: Generation) -> int:
    """Progress from elapsed time when the upstream gives no figure.

    Approaches 95 % as the generation nears its deadline, never reaching it,
    so the bar keeps moving without promising completion.
    """
    if not generation.started_at or not generation.deadline_at:
        return generation.progress
    total = (generation.deadline_at - generation.started_at).total_seconds()
    elapsed = (timezone.now() - generation.started_at).total_seconds()
    # Most upstream jobs finish in a fraction of their deadline; assume a third.
    fraction = min(1.0, elapsed / max(1.0, total / 3))
    return max(generation.progress, int(95 * (1 - (1 - fraction) ** 2)))


def _in(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)
