"""Drill: the poller SIGKILLed with a batch of polls in flight.

The polls it had claimed keep their leases until they expire; then another
poller (here, its restart) claims them and polls again. Nothing is polled
twice at once, nothing is lost, every hold is captured once.
"""

import os
import signal
import time
from decimal import Decimal

from playground.models import Generation, Provider
from tests.contract.fakes import JOBS, FakeUpstream, Step
from tests.httpservers import Reply
from tests.processes import wait_for
from tests.reliability.conftest import assert_books_balance, wait_all_finished
from tests.reliability.stack import api_client, create_task, needs_services

pytestmark = needs_services

GRANTED = Decimal("500.00")
SLOW = 3.0  # seconds the upstream takes to answer a status call
# The drill's lease: what a dead poller's claims hold out for. Upstream calls
# are given half of it, more than SLOW.
LEASE = 10
COUNT = 5
QUICK = {"model": "kling/v2-1", "input": {"prompt": "A paper boat", "resolution": "480p"}}


def running(task_id: str) -> Reply:
    data = {"taskId": task_id, "state": "generating"}
    return Reply.json({"code": 200, "msg": "success", "data": data}, delay=SLOW)


def test_a_poller_killed_mid_batch_loses_no_poll_and_never_doubles_one(stacks, alice, alice_key):
    Provider.objects.filter(kind=Provider.LOCAL).update(enabled=False)
    stack = stacks(GENERATION_LEASE_SECONDS=str(LEASE)).start_all()
    (poller,) = stack.pollers
    with FakeUpstream(JOBS) as fake:
        fake.script(running("t"), running("t"), Step("success"))
        fake.provider_row(priority=1)
        with api_client(stack, alice_key) as client:
            task_ids = [create_task(stack, client, QUICK) for _ in range(COUNT)]

        # Every first poll has gone out and none has been answered: kill then.
        wait_for(lambda: len(fake.polls) >= COUNT, timeout=60, interval=0.05, message="polls")
        os.kill(poller.popen.pid, signal.SIGKILL)
        poller.popen.wait()
        killed_at = time.monotonic()
        stack.pollers.remove(poller)
        stack.start_poller()

        generations = wait_all_finished(task_ids, timeout=120, stacks=[stack])
        polls = fake.polls

    assert [g.state for g in generations] == [Generation.SUCCESS] * COUNT, [
        (g.fail_code, g.fail_msg) for g in generations
    ]
    assert_books_balance(alice, generations, granted=GRANTED)
    by_task: dict[str, list[float]] = {}
    for request in polls:
        by_task.setdefault(request.query["taskId"][0], []).append(request.at)
    for task, arrivals in by_task.items():
        # The dead poller's polls were taken up again only after their leases ran out...
        after = [at for at in arrivals if at > killed_at]
        assert after and after[0] - killed_at >= LEASE / 2, (task, arrivals, killed_at)
        # ...and no poll of a task went out while another of it was unanswered
        # (the first two answers take SLOW, the rest come at once).
        for number, (earlier, later) in enumerate(zip(arrivals, arrivals[1:], strict=False)):
            answered_after = SLOW if number < 2 else 0.0
            assert later - earlier >= answered_after, (task, arrivals)
