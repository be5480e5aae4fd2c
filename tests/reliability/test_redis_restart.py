"""Drill: Redis restarts, without persistence, while tasks wait in its queue.

The queue only makes dispatch fast; the rows are the truth. Tasks the
restart wiped out are found by the sweeper (queuing rows whose redispatch
time has come) and queued again; the cluster's pusher reconnects on its
own; the workers' claims keep anything from running twice.
"""

from decimal import Decimal

from playground.models import Generation
from tests.processes import wait_for
from tests.reliability.conftest import assert_books_balance, wait_all_finished
from tests.reliability.stack import api_client, create_task, needs_services

pytestmark = needs_services

GRANTED = Decimal("500.00")
RENDER = {"model": "kling/v2-1", "input": {"prompt": "A red fox in snow", "resolution": "480p"}}
COUNT = 8


def test_tasks_queued_before_a_redis_restart_all_finish(stacks, own_redis, alice, alice_key):
    stack = stacks(REDIS_URL=own_redis.url, Q_WORKERS="1").start_all()
    with api_client(stack, alice_key) as client:
        task_ids = [create_task(stack, client, RENDER) for _ in range(COUNT)]

    def rendering():
        return Generation.objects.filter(
            task_id__in=task_ids, state=Generation.GENERATING, progress__gt=0
        ).exists()

    wait_for(rendering, timeout=60, interval=0.05, message="the first render")
    queued = own_redis.client().llen(stack.queue_key)
    assert queued > 0, "nothing was waiting in Redis: the drill would prove nothing"

    own_redis.restart(down_seconds=2)
    assert own_redis.client().llen(stack.queue_key) == 0  # the queued tasks are gone

    generations = wait_all_finished(task_ids, timeout=150, stacks=[stack])
    assert {g.state for g in generations} == {Generation.SUCCESS}, [
        (g.task_id, g.fail_code, g.fail_msg) for g in generations
    ]
    assert all(g.attempts == 1 for g in generations)  # each made once
    assert_books_balance(alice, generations, granted=GRANTED)

    # The web side came back too: a new task after the restart goes through.
    with api_client(stack, alice_key) as client:
        after = create_task(stack, client, RENDER)
    (generation,) = wait_all_finished([after], timeout=60, stacks=[stack])
    assert generation.state == Generation.SUCCESS
