"""Drills of fair share between teams.

One team's waiting requests never stall another team's calls:

Replicate's `Prefer: wait` holds a request until its prediction finishes. On
the production profile (gunicorn, here one process of two request threads)
one team sends 20 such creates that cannot finish (no worker runs); the
ones past the wait caps answer at once, `starting`, and those that wait
hold threads of their own (API_WAITS_PER_PROCESS, beside WEB_THREADS).
Meanwhile another team's status calls answer in milliseconds; before the
wait threads, they took up to the whole wait (57 s seen with 60 s waits).

One team's thousand queued renders never hold up another team's one: the
worker that takes a turn of the queue starts the next render of the team
served least recently (lifecycle.claim_next), not the oldest of all.
"""

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx

from accounts import apikeys, ledger
from accounts.models import Team
from accounts.teams import create_member
from playground.models import Generation
from tests.processes import wait_for
from tests.reliability.stack import create_together, needs_services

pytestmark = needs_services

WAITING = 20
WAIT_SECONDS = 12
INPUT = {"prompt": "A red fox in snow", "resolution": "480p"}


def member_with_key(name: str, credits: str = "10000.00") -> str:
    user = create_member(name, Team.objects.create(name=f"{name}'s team"), password="pw")
    ledger.grant(user.profile.team.wallet, Decimal(credits), note="plenty")
    return apikeys.issue(user, "drill")[1]


def test_one_teams_waiting_requests_leave_another_teams_calls_answering_at_once(
    stacks, transactional_db
):
    waiter, other = member_with_key("wanda"), member_with_key("otto")
    stack = stacks(WEB_WORKERS="1", WEB_THREADS="2")
    stack.start_web()  # no cluster: nothing finishes, every wait lasts its whole time
    answered: list[httpx.Response] = []

    def create() -> httpx.Response:
        answer = httpx.post(
            f"{stack.url}/v1/models/kling/v2-1/predictions",
            json={"input": INPUT},
            headers={"Authorization": f"Bearer {waiter}", "Prefer": f"wait={WAIT_SECONDS}"},
            timeout=60,
        )
        answered.append(answer)
        return answer

    with ThreadPoolExecutor(WAITING) as pool:
        creates = [pool.submit(create) for _ in range(WAITING)]
        # Those past the caps answer at once; the others are waiting now.
        wait_for(lambda: len(answered) >= WAITING - 4, timeout=10, message="the capped creates")
        waiting = WAITING - len(answered)
        timings = []
        with httpx.Client(headers={"Authorization": f"Bearer {other}"}, timeout=60) as client:
            for _ in range(10):
                started = time.monotonic()
                assert client.get(f"{stack.url}/api/v1/chat/credit").status_code == 200
                timings.append(time.monotonic() - started)
        still_waiting = sum(not create.done() for create in creates)
        answers = [create.result() for create in creates]

    assert 1 <= waiting == still_waiting  # the status calls ran while they waited
    assert statistics.median(timings) < 0.1, timings
    assert max(timings) < 1, timings
    assert all(answer.status_code == 201 for answer in answers)
    applied = [answer for answer in answers if "Preference-Applied" in answer.headers]
    assert len(applied) == waiting  # waited the whole time, then said `starting`
    assert {answer.json()["status"] for answer in answers} == {"starting"}


QUEUED = 1000
JOB = {"model": "kling/v2-1", "input": {"prompt": "A red fox in snow", "resolution": "480p"}}
RENDER = {"model": "kling-v2-6", "input": {"prompt": "A harbour at dusk", "duration": "5"}}


def started_while_the_second_team_waited(stack, body: dict, started_first: int) -> tuple[int, int]:
    """The first team queues QUEUED, the workers start `started_first` of them, then
    the second team queues one: how many of the first team's started after the
    second team's was queued and before it started, and how many never started."""
    first, second = member_with_key("first", "1000000.00"), member_with_key("second")
    stack.start_web()
    queued = create_together(stack.url, first, body, QUEUED)
    assert {answer.status_code for answer in queued} == {200}
    stack.start_cluster()
    wait_for(
        lambda: Generation.objects.filter(started_at__isnull=False).count() >= started_first,
        timeout=60,
        message="the first team's to start",
    )
    (answer,) = create_together(stack.url, second, body, 1)
    ones = Generation.objects.filter(task_id=answer.json()["data"]["taskId"])
    wait_for(
        lambda: ones.filter(started_at__isnull=False).exists(),
        timeout=120,
        message="the second team's to start",
    )
    one = ones.get()
    others = Generation.objects.exclude(pk=one.pk)
    meanwhile = others.filter(started_at__gte=one.created_at, started_at__lt=one.started_at)
    return meanwhile.count(), others.filter(started_at__isnull=True).count()


def test_one_teams_thousand_queued_renders_leave_another_teams_one_starting_next(
    stacks, transactional_db
):
    meanwhile, never_started = started_while_the_second_team_waited(
        stacks(Q_WORKERS="2"), RENDER, started_first=1
    )
    assert meanwhile <= 2  # only the two workers' renders under way when it came
    assert never_started > QUEUED - 20


def test_one_teams_thousand_queued_runs_leave_another_teams_one_starting_next(
    stacks, instant_provider, transactional_db
):
    """The same through the workers' own queue (providers the workers route:
    here the benchmark's instant one), where every queued generation sends a
    turn and the turn starts the next team's."""
    meanwhile, never_started = started_while_the_second_team_waited(
        stacks(Q_WORKERS="2"), JOB, started_first=20
    )
    assert meanwhile <= 4  # the runs under way, and a turn or two
    assert never_started > 0  # the first team's were not all done
