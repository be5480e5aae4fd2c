"""Drill: the upstream unreachable for a while, with many generations in flight at it.

Polls fail, back off (never faster than the backoff allows), and count
against each generation's error budget; none fails before that budget or its
deadline. When the upstream is back, every one finishes, charged once.
"""

import json
import threading
import time
from decimal import Decimal

from accounts import ledger
from playground.models import Generation, Provider
from tests.contract.fakes import JOBS, VIDEO_PATH, FakeUpstream
from tests.httpservers import Received, Reply
from tests.processes import wait_for
from tests.reliability.conftest import assert_books_balance, wait_all_finished
from tests.reliability.stack import api_client, create_task, needs_services

pytestmark = needs_services

COUNT = 60
OUTAGE = 20.0  # seconds the upstream drops every status call
POLL_MAX = 4  # the drill's POLL_MAX_SECONDS: at most one poll per 4 s each during the outage
QUICK = {"model": "kling/v2-1", "input": {"prompt": "A paper boat", "resolution": "480p"}}


class Outage:
    """Status calls answered 'generating', then dropped unanswered, then 'success'."""

    def __init__(self, fake: FakeUpstream) -> None:
        self.fake = fake
        self.down_from: float | None = None
        self.lock = threading.Lock()

    def begin(self) -> None:
        with self.lock:
            self.down_from = time.monotonic()

    def reply(self, request: Received) -> Reply:
        task_id = request.query["taskId"][0]
        with self.lock:
            down_from = self.down_from
        if down_from is None:
            return self.status(task_id, state="generating")
        if time.monotonic() < down_from + OUTAGE:
            return Reply(abort=True)  # as if the host were gone: no answer at all
        result = json.dumps({"resultUrls": [self.fake.url + VIDEO_PATH]})
        return self.status(task_id, state="success", resultJson=result)

    @staticmethod
    def status(task_id: str, **fields) -> Reply:
        return Reply.json({"code": 200, "msg": "success", "data": {"taskId": task_id, **fields}})


def test_an_upstream_outage_fails_nothing_and_every_generation_finishes(stacks, alice, alice_key):
    Provider.objects.filter(kind=Provider.LOCAL).update(enabled=False)
    ledger.grant(alice.profile.team.wallet, Decimal("5000.00"), note="sixty generations")
    stack = stacks(POLL_MAX_SECONDS=str(POLL_MAX), POLL_ERROR_BUDGET="20").start_all()
    with FakeUpstream(JOBS) as fake:
        outage = Outage(fake)
        fake.server.route(JOBS.poll_path(fake.model), outage.reply, method="GET")
        fake.provider_row(priority=1)
        with api_client(stack, alice_key) as client:
            task_ids = [create_task(stack, client, QUICK) for _ in range(COUNT)]
        wait_for(lambda: len(fake.tasks) == COUNT, timeout=60, message="every submit upstream")
        outage.begin()
        # Midway by the outage's own clock: refused for OUTAGE / 2 s, every
        # generation still has to be running, not failed.
        time.sleep(OUTAGE / 2)
        midway = Generation.objects.filter(task_id__in=task_ids)
        assert not midway.filter(state=Generation.FAIL).exists()
        assert midway.filter(poll_errors__gt=0).exists()  # the outage was felt
        generations = wait_all_finished(task_ids, timeout=OUTAGE + 90, stacks=[stack])
        polls = fake.polls

    assert [g.state for g in generations] == [Generation.SUCCESS] * COUNT, {
        g.fail_msg for g in generations if g.state != Generation.SUCCESS
    }
    assert_books_balance(alice, generations, granted=Decimal("5500.00"))
    # Backed off through the outage: no generation was asked more often than
    # the backoff allows (its first errors come sooner than POLL_MAX apart).
    during = [r for r in polls if outage.down_from <= r.at < outage.down_from + OUTAGE]
    per_task: dict[str, int] = {}
    for request in during:
        task = request.query["taskId"][0]
        per_task[task] = per_task.get(task, 0) + 1
    assert max(per_task.values()) <= OUTAGE / POLL_MAX + 3, per_task
