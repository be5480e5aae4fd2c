"""What gets delivered: a finished generation's callback and events, a start callback
for contracts that send one (Replicate's `start` webhook), and test events.

Each Delivery is made here with its body fixed, then queued once the
transaction commits.
"""

import json
import logging
import time
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from playground import contracts, queue
from playground.models import Generation
from playground.webhooks.models import (
    CALLBACK_START,
    VIDEO_COMPLETED,
    VIDEO_FAILED,
    WEBHOOK_TEST,
    Delivery,
    WebhookEndpoint,
)
from playground.webhooks.signing import new_event_id

log = logging.getLogger(__name__)

TASK = "playground.webhooks.delivery.deliver"
TEST_OBJECT_ID = "test"


def encode(payload: dict) -> str:
    """The JSON text sent: compact, UTF-8; these exact bytes are signed."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def event_body(event_type: str, object_id: str) -> str:
    """An account event, shaped like OpenAI's webhook events."""
    return encode(
        {
            "id": new_event_id(),
            "object": "event",
            "type": event_type,
            "created_at": int(time.time()),
            "data": {"id": object_id},
        }
    )


def event_type_of(generation: Generation) -> str:
    return VIDEO_COMPLETED if generation.state == Generation.SUCCESS else VIDEO_FAILED


def generation_finished(generation_id: int) -> list[Delivery]:
    """Make the finished generation's deliveries: its callback and its owner's events.

    Safe to call again: a delivery that exists is not made twice.
    """
    generation = Generation.objects.filter(pk=generation_id, state__in=Generation.FINISHED).first()
    if generation is None:
        return []
    event_type = event_type_of(generation)
    made = []
    with transaction.atomic():
        existing = Delivery.objects.filter(generation=generation)
        finish_callbacks = existing.filter(kind=Delivery.CALLBACK, event_type="")
        if generation.callback_url and not finish_callbacks.exists():
            callback = _callback(generation)
            if callback is not None:
                made.append(callback)
        done = set(existing.filter(kind=Delivery.EVENT).values_list("endpoint_id", flat=True))
        endpoints = WebhookEndpoint.objects.filter(user_id=generation.owner_id, enabled=True)
        for endpoint in endpoints:
            if endpoint.pk in done or not endpoint.wants(event_type):
                continue
            delivery = _make(
                Delivery(
                    kind=Delivery.EVENT,
                    event_type=event_type,
                    user_id=generation.owner_id,
                    generation=generation,
                    endpoint=endpoint,
                    task_id=generation.task_id,
                    url=endpoint.url,
                    body=event_body(event_type, generation.task_id),
                )
            )
            if delivery is not None:
                made.append(delivery)
    return made


def _callback(generation: Generation, event_type: str = "") -> Delivery | None:
    """The callback of the generation's contract; None when the contract sends
    none for this moment (a Replicate webhook filtered to other events)."""
    if event_type == CALLBACK_START:
        body = contracts.start_body(generation)
    else:
        body = contracts.callback_body(generation)
    if body is None:
        return None
    return _make(
        Delivery(
            kind=Delivery.CALLBACK,
            event_type=event_type,
            user_id=generation.owner_id,
            generation=generation,
            task_id=generation.task_id,
            url=generation.callback_url,
            body=encode(body),
        )
    )


def generation_started(generation_id: int) -> Delivery | None:
    """Make the start callback of a generation whose contract sends one.

    Safe to call again: the delivery is made once.
    """
    generation = Generation.objects.filter(pk=generation_id).exclude(callback_url="").first()
    if generation is None:
        return None
    if Delivery.objects.filter(
        generation=generation, kind=Delivery.CALLBACK, event_type=CALLBACK_START
    ).exists():
        return None
    with transaction.atomic():
        return _callback(generation, CALLBACK_START)


def send_test_event(endpoint: WebhookEndpoint) -> Delivery:
    """A `webhook.test` event to one endpoint, delivered like any other."""
    delivery = _make(
        Delivery(
            kind=Delivery.EVENT,
            event_type=WEBHOOK_TEST,
            user_id=endpoint.user_id,
            endpoint=endpoint,
            task_id=TEST_OBJECT_ID,
            url=endpoint.url,
            body=event_body(WEBHOOK_TEST, TEST_OBJECT_ID),
        )
    )
    assert delivery is not None  # no constraint applies without a generation
    return delivery


def _make(delivery: Delivery) -> Delivery | None:
    """Save and queue the delivery after commit; None when it already existed."""
    # Should the queue lose the task, the sweeper sends it once this is due.
    delivery.next_attempt_at = timezone.now() + timedelta(seconds=settings.REDISPATCH_SECONDS)
    try:
        with transaction.atomic():
            delivery.save()
    except IntegrityError:  # a concurrent hand-off made it first
        return None
    # robust: a broker that is down must not undo or fail the caller's work;
    # the sweeper sends the delivery once next_attempt_at is due.
    transaction.on_commit(partial(queue.enqueue, TASK, delivery.pk, 0), robust=True)
    return delivery
