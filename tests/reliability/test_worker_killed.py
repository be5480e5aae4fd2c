"""Drill: workers SIGKILLed mid-generation.

A killed django-q2 worker takes its task with it (the Redis broker has no
acknowledgements), so only the database can bring the work back: the lease
runs out, the sweeper hands the generation out again, and the claim makes
sure exactly one worker finishes it and the hold is captured once.
"""

import os
import signal
from decimal import Decimal

from playground.models import Generation
from tests.processes import wait_for
from tests.reliability.conftest import assert_books_balance, wait_all_finished
from tests.reliability.stack import api_client, create_task, descends_from, needs_services

pytestmark = needs_services

GRANTED = Decimal("500.00")
# Long enough to be caught rendering, short enough to render twice in a drill.
RENDER = {
    "model": "kling/v2-1",
    "input": {"prompt": "A lighthouse in a storm", "resolution": "480p", "duration": 10},
}
QUICK = {"model": "kling/v2-1", "input": {"prompt": "A paper boat", "resolution": "480p"}}


def test_a_worker_killed_mid_render_loses_nothing_and_charges_once(stacks, alice, alice_key):
    stack = stacks().start_all()
    cluster = stack.clusters[0]
    with api_client(stack, alice_key) as client:
        task_ids = [create_task(stack, client, RENDER), create_task(stack, client, QUICK)]

    def rendering_here():
        # One of ours, rendering, in a worker of this drill's cluster.
        for generation in Generation.objects.filter(
            task_id__in=task_ids, state=Generation.GENERATING, progress__gt=0
        ).exclude(lease_holder=""):
            pid = int(generation.lease_holder.rsplit(":", 1)[1])
            if descends_from(pid, cluster.popen.pid):
                return generation, pid
        return None

    victim, pid = wait_for(rendering_here, timeout=60, interval=0.05, message="a render")
    os.kill(pid, signal.SIGKILL)

    generations = wait_all_finished(task_ids, timeout=120, stacks=[stack])
    assert [g.state for g in generations] == [Generation.SUCCESS] * 2, [
        (g.fail_code, g.fail_msg) for g in generations
    ]
    killed = next(g for g in generations if g.pk == victim.pk)
    assert killed.attempts == 2
    assert "lease expired" in " ".join(killed.events.values_list("note", flat=True))
    assert_books_balance(alice, generations, granted=GRANTED)


def test_a_whole_cluster_killed_with_work_queued_loses_nothing(stacks, alice, alice_key):
    """The machine of a cluster dies: running and prefetched tasks vanish with it."""
    stack = stacks(Q_WORKERS="1").start_all()
    with api_client(stack, alice_key) as client:
        task_ids = [create_task(stack, client, RENDER)] + [
            create_task(stack, client, QUICK) for _ in range(3)
        ]

    def started():
        return Generation.objects.filter(
            task_id__in=task_ids, state=Generation.GENERATING, progress__gt=0
        ).exists()

    wait_for(started, timeout=60, interval=0.05, message="a render to start")
    running = set(
        Generation.objects.filter(task_id__in=task_ids, state=Generation.GENERATING).values_list(
            "task_id", flat=True
        )
    )
    stack.kill_cluster(stack.clusters[0])
    stack.start_cluster()  # a replacement machine

    generations = wait_all_finished(task_ids, timeout=150, stacks=[stack])
    assert {g.state for g in generations} == {Generation.SUCCESS}, [
        (g.task_id, g.fail_code, g.fail_msg) for g in generations
    ]
    # What was rendering when the cluster died was made again, from the start.
    assert running and all(g.attempts == 2 for g in generations if g.task_id in running)
    assert_books_balance(alice, generations, granted=GRANTED)
