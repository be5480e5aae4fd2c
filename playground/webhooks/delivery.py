"""Sending deliveries: claim, sign, POST, record, and schedule the next attempt.

Seed 002's policy, with its numbers in settings:

    attempt 1 at once; quick retries CALLBACK_QUICK_RETRIES (1, 2, 4 s) after
    the previous attempt, inline in the same task; then background retries
    after CALLBACK_RETRY_INTERVALS (30 s, 1, 2, 5, 10 min; the last repeats),
    dispatched by the sweeper, until CALLBACK_RETRY_WINDOW_SECONDS (30 min)
    after the round's first attempt. Each attempt has CALLBACK_TIMEOUT_SECONDS.

It stops at the first 2xx (delivered), at a URL the SSRF guard refuses or
an event whose endpoint was deleted (failed at once: retrying cannot help),
and when the window is over (failed).

django-q2 may run a task twice, even at once. A task carries the attempt
count it was queued for, and its claim is a conditional UPDATE on that
count, the pending status and a free lease: a duplicate finds the lease
taken or the count moved on, and does nothing. While a worker sends, it
holds the lease; a worker that dies leaves it to expire, and the sweeper
dispatches the delivery again.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import DateTimeField, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Profile
from playground import outbound, queue
from playground.lifecycle import worker_name
from playground.ops import logs, metrics
from playground.webhooks import signing
from playground.webhooks.events import TASK
from playground.webhooks.models import Delivery, DeliveryAttempt, WebhookEndpoint

log = logging.getLogger(__name__)

BATCH = 200
# Read enough of an answer for the excerpt we keep.
MAX_RESPONSE_BYTES = 4096
# A lease covers an attempt's timeout and the pause before the next quick
# retry, plus this much slack for the database and the clock.
LEASE_SLACK_SECONDS = 30


@dataclass(frozen=True)
class Outcome:
    """What one attempt gave: an answer, or the reason there was none."""

    at: datetime
    status: int | None = None
    latency_ms: int | None = None
    excerpt: str = ""
    error: str = ""
    final: bool = False  # no later attempt can do better (refused URL, endpoint gone)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def label(self) -> str:
        """The outcome as the attempts' counter names it (playground/ops/metrics.py)."""
        if self.ok:
            return "delivered"
        if self.final:
            return "refused"
        return "rejected" if self.status is not None else "unreachable"


def deliver(delivery_id: int, attempt_count: int) -> None:
    """The django-q2 task: send a pending delivery, retrying quickly, then hand it back."""
    worker = worker_name()
    delivery = claim(delivery_id, worker, attempt_count)
    if delivery is None:
        return
    with logs.task(delivery.task_id or None):
        try:
            _run(delivery, worker)
        except Exception:
            log.exception("delivery %s crashed", delivery_id)
            # Back to the sweeper after an interval; a crash loop ends with the window.
            _reschedule(delivery, worker, _window_end(delivery), _background_delay(1))


def claim(delivery_id: int, worker: str, attempt_count: int) -> Delivery | None:
    now = timezone.now()
    taken = (
        Delivery.objects.filter(
            pk=delivery_id, status=Delivery.PENDING, attempt_count=attempt_count
        )
        .filter(_lease_free(now))
        .update(lease_holder=worker, lease_expires_at=now + _lease_seconds(0))
    )
    if not taken:
        return None
    return Delivery.objects.get(pk=delivery_id)


def _lease_free(now) -> Q:
    return Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)


def _lease_seconds(pause: float) -> timedelta:
    return timedelta(seconds=pause + settings.CALLBACK_TIMEOUT_SECONDS + LEASE_SLACK_SECONDS)


def _window_end(delivery: Delivery) -> datetime:
    started = delivery.round_started_at or delivery.created_at
    return started + timedelta(seconds=settings.CALLBACK_RETRY_WINDOW_SECONDS)


def _background_delay(position: int) -> float:
    """The pause after the `position`-th background attempt failed (1-based)."""
    intervals = settings.CALLBACK_RETRY_INTERVALS
    return intervals[min(position, len(intervals)) - 1]


def next_retry(round_attempts: int) -> tuple[float, bool]:
    """After the round's `round_attempts`-th failed attempt: (pause in seconds, inline?)."""
    quick = settings.CALLBACK_QUICK_RETRIES
    if round_attempts <= len(quick):
        return quick[round_attempts - 1], True
    return _background_delay(round_attempts - len(quick)), False


def _run(delivery: Delivery, worker: str) -> None:
    while True:
        outcome = attempt(delivery)
        if not _record(delivery, worker, outcome):
            return  # lost the lease (or an admin settled it): someone else has it
        if outcome.ok or outcome.final:
            return
        pause, inline = next_retry(delivery.round_attempts)
        now = timezone.now()
        end = _window_end(delivery)
        if now >= end:
            _give_up(delivery, worker)
            return
        due = min(now + timedelta(seconds=pause), end)
        if not inline:
            _reschedule(delivery, worker, end, pause)
            return
        if not _renew(delivery.pk, worker, (due - now).total_seconds()):
            return
        time.sleep(max(0.0, (due - timezone.now()).total_seconds()))


def attempt(delivery: Delivery) -> Outcome:
    """Sign and POST the delivery's body once. Never raises for the receiver's failures."""
    at = timezone.now()
    if delivery.kind == Delivery.EVENT and not _endpoint_exists(delivery.endpoint_id):
        return Outcome(at=at, error="The webhook endpoint was deleted.", final=True)
    body = delivery.body.encode()
    secret = Profile.objects.get(user_id=delivery.user_id).signing_secret()
    headers = signing.headers(
        secret,
        message_id=delivery.message_id,
        task_id=delivery.task_id,
        timestamp=int(time.time()),
        body=body,
    )
    started = time.monotonic()
    try:
        answer = outbound.send(
            "POST",
            delivery.url,
            content=body,
            headers=headers,
            timeout=settings.CALLBACK_TIMEOUT_SECONDS,
            total_timeout=settings.CALLBACK_TIMEOUT_SECONDS,
            max_response_bytes=MAX_RESPONSE_BYTES,
        )
    except outbound.UnsafeURL as exc:
        # Refused before anything was sent; the same URL will be refused again.
        return Outcome(at=at, error=str(exc), final=True)
    except outbound.FetchError as exc:
        return Outcome(at=at, latency_ms=_since(started), error=exc.reason)
    return Outcome(
        at=at,
        status=answer.status,
        latency_ms=answer.elapsed_ms,
        excerpt=answer.text[: DeliveryAttempt.EXCERPT_CHARS],
    )


def _endpoint_exists(endpoint_id: int | None) -> bool:
    return endpoint_id is not None and WebhookEndpoint.objects.filter(pk=endpoint_id).exists()


def _since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _record(delivery: Delivery, worker: str, outcome: Outcome) -> bool:
    """Store the attempt and its effect on the delivery; False when the lease was lost."""
    at = Value(outcome.at, output_field=DateTimeField())
    fields = {
        "attempt_count": F("attempt_count") + 1,
        "round_attempts": F("round_attempts") + 1,
        "first_attempt_at": Coalesce("first_attempt_at", at),
        "round_started_at": Coalesce("round_started_at", at),
        "last_attempt_at": outcome.at,
    }
    if outcome.ok:
        fields.update(status=Delivery.DELIVERED, delivered_at=timezone.now(), **_released())
    elif outcome.final:
        fields.update(status=Delivery.FAILED, **_released())
    with transaction.atomic():
        kept = Delivery.objects.filter(
            pk=delivery.pk, status=Delivery.PENDING, lease_holder=worker
        ).update(**fields)
        number = (
            Delivery.objects.values_list("attempt_count", flat=True).get(pk=delivery.pk)
            if kept
            else delivery.attempt_count + 1
        )
        # Stored even when the lease was lost: the request went out all the same.
        DeliveryAttempt.objects.create(
            delivery_id=delivery.pk,
            number=number,
            at=outcome.at,
            status=outcome.status,
            latency_ms=outcome.latency_ms,
            response_excerpt=outcome.excerpt,
            error=outcome.error[:2000],
            worker=worker,
        )
    metrics.delivery_attempted(delivery.kind, outcome.label)
    if kept and (outcome.ok or outcome.final):
        metrics.delivery_finished(delivery.kind, "delivered" if outcome.ok else "failed")
    if kept:
        delivery.refresh_from_db()
    log.info(
        "delivery %s (%s) attempt %s: %s",
        delivery.pk,
        delivery.shown_url,
        number,
        f"HTTP {outcome.status}" if outcome.status is not None else outcome.error,
    )
    return bool(kept)


def _released() -> dict:
    return {"lease_holder": "", "lease_expires_at": None, "next_attempt_at": None}


def _renew(delivery_id: int, worker: str, pause: float) -> bool:
    kept = Delivery.objects.filter(
        pk=delivery_id, status=Delivery.PENDING, lease_holder=worker
    ).update(lease_expires_at=timezone.now() + _lease_seconds(pause))
    return bool(kept)


def _reschedule(delivery: Delivery, worker: str, end: datetime, pause: float) -> None:
    """Hand the delivery to the sweeper for its next attempt, or give up past the window."""
    now = timezone.now()
    rows = Delivery.objects.filter(pk=delivery.pk, status=Delivery.PENDING, lease_holder=worker)
    if now >= end:
        if rows.update(status=Delivery.FAILED, **_released()):
            metrics.delivery_finished(delivery.kind, "failed")
        return
    due = min(now + timedelta(seconds=pause), end)
    rows.update(next_attempt_at=due, lease_holder="", lease_expires_at=None)


def _give_up(delivery: Delivery, worker: str) -> None:
    given_up = Delivery.objects.filter(
        pk=delivery.pk, status=Delivery.PENDING, lease_holder=worker
    ).update(status=Delivery.FAILED, **_released())
    if given_up:
        metrics.delivery_finished(delivery.kind, "failed")
    log.warning(
        "delivery %s to %s failed after %s attempts",
        delivery.pk,
        delivery.shown_url,
        delivery.attempt_count,
    )


def dispatch_due(now) -> int:
    """The sweeper's step: queue pending deliveries whose next attempt is due.

    Also picks up deliveries whose task the queue lost, and those whose
    worker died mid-send (the lease expired).
    """
    due = (
        Delivery.objects.filter(status=Delivery.PENDING, next_attempt_at__lte=now)
        .filter(_lease_free(now))
        .values_list("pk", "attempt_count")[:BATCH]
    )
    count = 0
    redispatch_at = now + timedelta(seconds=settings.REDISPATCH_SECONDS)
    for pk, attempt_count in due:
        # Moving next_attempt_at on is the claim: another sweeper's UPDATE
        # finds nothing due and queues nothing.
        claimed = (
            Delivery.objects.filter(
                pk=pk,
                status=Delivery.PENDING,
                attempt_count=attempt_count,
                next_attempt_at__lte=now,
            )
            .filter(_lease_free(now))
            .update(next_attempt_at=redispatch_at)
        )
        if claimed:
            queue.enqueue(TASK, pk, attempt_count)
            count += 1
    return count


def redeliver(delivery_id: int) -> bool:
    """Send a delivery again now, as a new round with its own retries and window.

    Refused (False) while a worker is sending it. The body and webhook-id
    stay the same, so a receiver that already handled it can tell.
    """
    now = timezone.now()
    with transaction.atomic():
        count = (
            Delivery.objects.filter(_lease_free(now), pk=delivery_id)
            .values_list("attempt_count", flat=True)
            .first()
        )
        if count is None:
            return False
        moved = Delivery.objects.filter(
            _lease_free(now), pk=delivery_id, attempt_count=count
        ).update(
            status=Delivery.PENDING,
            round_started_at=None,
            round_attempts=0,
            delivered_at=None,
            next_attempt_at=now + timedelta(seconds=settings.REDISPATCH_SECONDS),
            lease_holder="",
            lease_expires_at=None,
        )
        if moved:
            transaction.on_commit(lambda: queue.enqueue(TASK, delivery_id, count), robust=True)
    return bool(moved)
