"""What happens after a generation starts or finishes: the hand-off to callback delivery."""

import logging

from django.db import transaction

from playground.webhooks import events

log = logging.getLogger(__name__)


def generation_finished(generation_id: int) -> None:
    """Called once, inside the transaction that finishes the generation.

    Makes the generation's deliveries (its callback, its owner's webhook
    events) in that transaction and queues them once it commits;
    playground/webhooks/ does the rest.
    """
    try:
        # A savepoint: should making them fail, the transition still commits.
        with transaction.atomic():
            made = events.generation_finished(generation_id)
    except Exception:
        # The generation is settled whatever happens here; a failure to
        # notify must not turn into a failed task (django-q2 would retry it).
        log.exception("could not make the deliveries of generation %s", generation_id)
        return
    log.debug("generation %s finished: %d deliveries", generation_id, len(made))


def generation_started(generation_id: int) -> None:
    """Called once, inside the transaction of a generation's first start.

    Makes its start callback when its contract sends one (Replicate's `start`
    webhook); playground/webhooks/ does the rest.
    """
    try:
        with transaction.atomic():
            events.generation_started(generation_id)
    except Exception:
        # Like a finish hand-off, this must never fail the generation's task.
        log.exception("could not make the start callback of generation %s", generation_id)
