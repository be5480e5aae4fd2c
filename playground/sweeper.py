"""The sweeper: finds work the queue lost or a dead worker left behind.

It runs every SWEEP_SECONDS in its own loop (`manage.py sweeper`, started by
`make run` beside the worker). django-q2's own schedules are checked only
every 30 seconds by its sentinel, too coarse for polls and retries measured
in seconds. Several sweepers may run at once: each dispatch is claimed with
a conditional UPDATE, and the task functions ignore work already done.

Each pass that finishes writes the sweeper's heartbeat, which GET /readyz
reads (playground/ops/health.py).
"""

import logging

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from playground import lifecycle, providers, queue, uploads
from playground.models import Generation
from playground.ops import health, logs
from playground.ops.models import Heartbeat
from playground.webhooks import delivery

log = logging.getLogger(__name__)
BATCH = 200


def sweep() -> dict[str, int]:
    now = timezone.now()
    counts = {
        "timed_out": _time_out(now),
        "redispatched": _redispatch(now),
        "recovered": _recover(now),
        # With pollers running, they claim due polls themselves.
        "polled": _poll(now) if not settings.POLLERS else 0,
        "deliveries": delivery.dispatch_due(now),
        "uploads_removed": uploads.remove_unused_hourly(),
    }
    health.seen(Heartbeat.SWEEPER)
    return counts


def _time_out(now) -> int:
    overdue = Generation.objects.filter(
        state__in=Generation.UNFINISHED, deadline_at__lt=now
    ).values_list("pk", "task_id", "upstream_ref")[:BATCH]
    count = 0
    for pk, task_id, upstream_ref in overdue:
        message = "The generation did not finish before its deadline."
        if upstream_ref:
            # Kept so an operator can still fetch the result from the upstream.
            message += f" Upstream task: {upstream_ref}."
        with logs.task(task_id):
            count += lifecycle.fail(pk, Generation.FailCode.TIMEOUT, message)
    return count


def _redispatch(now) -> int:
    """Generations whose run task never reached a worker (lost on the way)."""
    due = Generation.objects.filter(state=Generation.QUEUING, next_poll_at__lte=now)
    if settings.POLLERS:
        # Queued with a provider that does not render: the pollers' to submit
        # (playground/poller.py).
        due = due.exclude(
            Q(provider__isnull=False) & ~Q(provider__kind__in=providers.render_kinds())
        )
    due = due.values_list("pk", "task_id", "model_id")[:BATCH]
    count = 0
    for pk, task_id, model_id in due:
        with logs.task(task_id):
            if lifecycle.redispatch(pk, now, queue.redispatch_at(now)):
                queue.run(pk, render=providers.renders_first(model_id))
                count += 1
    return count


def _recover(now) -> int:
    """Local work whose worker died: run it again, or give up after enough attempts."""
    dead = (
        Generation.objects.filter(
            state=Generation.GENERATING, upstream_ref="", lease_expires_at__lt=now
        )
        .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
        .values_list("pk", "task_id", "attempts", "model_id")[:BATCH]
    )
    count = 0
    for pk, task_id, attempts, model_id in dead:
        with logs.task(task_id):
            count += _recover_one(pk, attempts, model_id, now)
    return count


def _recover_one(pk: int, attempts: int, model_id: str, now) -> int:
    if attempts >= settings.GENERATION_MAX_ATTEMPTS:
        return lifecycle.fail(
            pk,
            Generation.FailCode.WORKER_LOST,
            f"The worker stopped {attempts} times while making this video.",
            from_states=[Generation.GENERATING],
        )
    if lifecycle.rerun(pk, now, queue.redispatch_at(now)):
        queue.run(pk, render=providers.renders_first(model_id))
        return 1
    return 0


def _poll(now) -> int:
    """Upstream generations whose next poll is due (or whose poller died)."""
    due = Generation.objects.filter(lifecycle.poll_due(now))
    count = 0
    for pk, task_id, poll_count in due.values_list("pk", "task_id", "poll_count")[:BATCH]:
        claimed = (
            Generation.objects.filter(pk=pk, state=Generation.GENERATING, poll_count=poll_count)
            .filter(Q(next_poll_at__lte=now) | Q(next_poll_at__isnull=True))
            .update(next_poll_at=queue.redispatch_at(now))
        )
        if claimed:
            with logs.task(task_id):
                queue.enqueue("playground.tasks.poll_generation", pk, poll_count)
            count += 1
    return count
