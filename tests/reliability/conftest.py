"""Fault drills on the production profile: PostgreSQL, Redis, gunicorn, clusters, sweeper.

They run where both services exist (CI's second leg sets DATABASE_URL and
REDIS_URL) and are skipped elsewhere: each module has `pytestmark =
needs_services`. Each drill brings up a stack of its own
(tests/reliability/stack.py), does something bad to one piece and then
checks the books: nothing lost, nothing charged twice, every accepted task
finished.
"""

import shutil
from decimal import Decimal

import pytest

from accounts import ledger
from accounts.models import CreditAccount, CreditHold, LedgerEntry
from bench import settings as bench_settings
from playground.models import Generation, Provider
from tests.processes import SESSION, paused, wait_for
from tests.reliability.stack import RedisServer, Stack


@pytest.fixture
def stacks(transactional_db, local_renderer, tmp_path):
    """Make drill stacks; every one is stopped and its Redis keys removed afterwards.

    Stopped before transactional_db empties the tables, which needs the
    processes' connections gone.
    """
    made: list[Stack] = []

    def make(**env: str) -> Stack:
        stack = Stack(tmp_path / f"stack-{len(made) + 1}", **env)
        stack.log_dir.mkdir()
        made.append(stack)
        return stack

    with paused(SESSION):
        yield make
        for stack in made:
            stack.stop()
            stack.delete_keys()


@pytest.fixture
def own_redis():
    """A redis-server of the drill's own, which it may stop: never the shared one."""
    if shutil.which("redis-server") is None:
        pytest.skip("this drill starts its own Redis: install redis-server")
    server = RedisServer().start()
    yield server
    server.remove()


@pytest.fixture
def instant_provider(transactional_db, settings):
    """Generations finish at once: the benchmark's provider kind (bench/settings.py),
    registered here as in the processes the tests start (tests/processes.py)."""
    settings.PROVIDER_KINDS_EXTRA = bench_settings.PROVIDER_KINDS_EXTRA
    return Provider.objects.create(name="Instant", kind="instant", priority=1)


def wait_all_finished(task_ids: list[str], *, timeout: float, stacks=()) -> list[Generation]:
    rows = Generation.objects.filter(task_id__in=task_ids)

    def finished():
        for stack in stacks:
            stack.assert_alive()
        return rows.filter(state__in=Generation.FINISHED).count() == len(task_ids)

    def unfinished():
        left = rows.exclude(state__in=Generation.FINISHED)
        return list(left.values_list("task_id", "state", "attempts"))

    try:
        wait_for(finished, timeout=timeout, interval=0.25, message="every task to finish")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; unfinished: {unfinished()}") from None
    return list(rows.order_by("pk"))


def assert_books_balance(user, generations: list[Generation], *, granted: Decimal) -> None:
    """Each success charged its quote once, each failure nothing; the ledger adds up."""
    account = CreditAccount.objects.get(team__members__user=user)
    charged = Decimal("0.00")
    for generation in generations:
        captures = LedgerEntry.objects.filter(
            reference=generation.hold_reference, kind=LedgerEntry.CAPTURE
        )
        hold = CreditHold.objects.get(reference=generation.hold_reference)
        if generation.state == Generation.SUCCESS:
            assert captures.count() == 1, generation.task_id
            assert hold.state == CreditHold.CAPTURED
            assert generation.charged_credits == generation.quoted_credits
            charged += generation.charged_credits
        else:
            assert captures.count() == 0, generation.task_id
            assert hold.state == CreditHold.RELEASED
            assert generation.charged_credits == Decimal("0.00")
    assert account.held == Decimal("0.00")
    assert account.balance == granted - charged
    assert ledger.totals_from_entries(account) == (account.balance, account.held)
