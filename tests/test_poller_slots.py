"""The poller claims, per provider, only what it can send at once.

A claim beyond a provider's free slots would wait behind the others; one
that waits longer than its lease allows is given back unpolled, a database
write for nothing, and its poll is late.
"""

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

from django.db import connections
from django.db.models import Count
from django.utils import timezone

from accounts import ledger
from playground import lifecycle, services
from playground.models import Generation, Provider
from playground.poller import Poller, claim_submits
from tests.contract.fakes import JOBS, VIDEO_GENERATIONS, FakeUpstream, Step
from tests.httpservers import Reply
from tests.processes import SESSION, paused, wait_for

PER_PROVIDER = 2
EACH = 12  # generations at each of the two providers
SLOW = 0.4  # seconds the upstreams take to answer a first status call
# With the test lease of 3 s, a call may start up to 1.5 s after its claim:
# twelve polls of 0.4 s two at a time take 2.4 s, so claiming all at once
# would give some back.


# A second catalog model, for the second upstream.
SECOND_MODEL = (VIDEO_GENERATIONS.model, VIDEO_GENERATIONS.input)


def slow_running() -> Reply:
    data = {"taskId": "t", "state": "generating"}
    return Reply.json({"code": 200, "msg": "success", "data": data}, delay=SLOW)


@contextmanager
def own_poller(**options) -> Iterator[Poller]:
    """A Poller on a loop of its own, in this process; the session's poller paused meanwhile."""
    poller = Poller(**options)
    started = threading.Event()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def main() -> None:
        started.set()
        await poller.run(stop)

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    with paused([process for process in SESSION if process.name == "poller"]):
        thread.start()
        started.wait(5)
        try:
            yield poller
        finally:
            loop.call_soon_threadsafe(stop.set)
            thread.join(30)
            loop.close()
            connections.close_all()


def held_claims(poller: Poller) -> Counter:
    """Generations leased to `poller` now, by provider: what the database says it holds."""
    rows = (
        Generation.objects.filter(lease_holder__startswith=f"{poller.name}:")
        .values("provider_id")
        .annotate(held=Count("pk"))
    )
    return Counter({row["provider_id"]: row["held"] for row in rows})


def test_the_poller_claims_no_more_for_a_provider_than_it_can_poll_at_once(worker, alice, settings):
    settings.ALLOW_PRIVATE_URLS = True
    Provider.objects.filter(kind=Provider.LOCAL).update(enabled=False)
    ledger.grant(alice.profile.team.wallet, Decimal("5000.00"), note="two dozen generations")
    # Two jobs-API upstreams, one model each (the fake answers for any model).
    models = {"first": (JOBS.model, JOBS.input), "second": SECOND_MODEL}
    with FakeUpstream(JOBS) as first, FakeUpstream(JOBS) as second:
        fakes = {"first": first, "second": second}
        rows = {}
        for name, fake in fakes.items():
            fake.script(slow_running(), Step("success"))
            rows[name] = fake.provider_row(name=name, priority=1, model_ids=[models[name][0]])
        made = [
            services.submit(user=alice, model=model, input=input)
            for model, input in models.values()
            for _ in range(EACH)
        ]
        most: Counter = Counter()  # the most claims seen held at each provider
        with own_poller(capacity=100, per_provider=PER_PROVIDER) as poller:

            def all_finished() -> bool:
                for provider, held in held_claims(poller).items():
                    most[provider] = max(most[provider], held)
                unfinished = Generation.objects.filter(pk__in=[g.pk for g in made]).exclude(
                    state__in=Generation.FINISHED
                )
                return not unfinished.exists()

            wait_for(all_finished, timeout=60, interval=0.02, message="every generation")
            given_back = poller.given_back
        polls = {name: [request.at for request in fake.polls] for name, fake in fakes.items()}

    done = Generation.objects.filter(pk__in=[g.pk for g in made])
    assert sorted(done.values_list("state", flat=True)) == [Generation.SUCCESS] * len(made), [
        (g.fail_code, g.fail_msg) for g in done
    ]
    # The database never showed more claims at a provider than it polls at once...
    assert set(most) == {rows["first"].pk, rows["second"].pk}, most
    assert max(most.values()) <= PER_PROVIDER, most
    # ...so none waited for a slot until it had to be given back.
    assert given_back == 0
    # Both providers' polls went on together: neither waited for the other's backlog.
    for name, other in (("first", "second"), ("second", "first")):
        assert len(polls[name]) >= 2 * EACH
        halfway = sorted(polls[other])[EACH]
        assert min(polls[name]) < halfway, polls


def upstream(name: str, model: str) -> Provider:
    return Provider.objects.create(
        name=name, kind=Provider.JOBS, base_url="http://127.0.0.1:9", priority=1, model_ids=[model]
    )


def test_a_batch_takes_the_providers_polls_in_turn_within_their_free_slots(db, alice):
    """One provider's backlog, due earlier, does not fill the batch ahead of another's polls."""
    ledger.grant(alice.profile.team.wallet, Decimal("1000.00"), note="eight generations")
    first, second = upstream("first", JOBS.model), upstream("second", SECOND_MODEL[0])
    now = timezone.now()
    for number, (row, model) in enumerate([(first, JOBS)] * 6 + [(second, VIDEO_GENERATIONS)] * 2):
        generation = services.submit(user=alice, model=model.model, input=model.input)
        Generation.objects.filter(pk=generation.pk).update(
            state=Generation.GENERATING,
            provider=row,
            upstream_ref=f"task-{number}",
            next_poll_at=now - timedelta(seconds=60 - number),  # the first's due earliest
        )

    batch = lifecycle.claim_polls("poller:1", 3)
    assert Counter(g.provider_id for g in batch) == {first.pk: 2, second.pk: 1}

    # The first has one slot free, the second plenty: the batch takes what fits.
    room = {first.pk: 1, second.pk: 5}
    batch = lifecycle.claim_polls("poller:2", 10, lambda pk: room.get(pk, 0))
    assert Counter(g.provider_id for g in batch) == {first.pk: 1, second.pk: 1}
    # Each provider's earliest due first: the first's third, as two were taken before.
    assert [g.upstream_ref for g in batch if g.provider_id == first.pk] == ["task-2"]


def test_queued_submits_are_claimed_within_the_free_slots_by_team_in_turn(db, alice, carol):
    """alice queued six, carol one after them, at one provider with two free slots."""
    ledger.grant(carol.profile.team.wallet, Decimal("100.00"), note="one generation")
    row = upstream("first", JOBS.model)
    for _ in range(6):
        services.submit(user=alice, model=JOBS.model, input=JOBS.input)
    services.submit(user=carol, model=JOBS.model, input=JOBS.input)

    first_two = claim_submits("poller:1", 10, lambda pk: 2 if pk == row.pk else 0)
    assert {g.owner for g in first_two} == {alice, carol}
    assert claim_submits("poller:2", 10, lambda pk: 0) == []
