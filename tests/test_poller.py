"""The poller: upstream polls in flight together, claimed once, results handed to a worker."""

import json
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts import ledger
from playground import lifecycle, services
from playground.models import Generation, Provider
from playground.poller import claim_submits
from tests.contract.fakes import JOBS, FakeUpstream, Step, envelope, finish
from tests.httpservers import Reply

pytestmark = pytest.mark.django_db

SLOW = 1.0  # seconds the upstream takes to answer a status call
COUNT = 20


def generating(state: str = "generating", **fields) -> Reply:
    data = {"taskId": "t", "state": state, **fields}
    return Reply.json({"code": 200, "msg": "success", "data": data}, delay=SLOW)


def test_slow_status_calls_are_in_flight_together(worker, alice):
    """Twenty polls of a 1 s upstream overlap: no poll waits for another's answer."""
    Provider.objects.filter(kind=Provider.LOCAL).update(enabled=False)
    ledger.grant(alice.profile.team.wallet, Decimal("2000.00"), note="twenty generations")
    with FakeUpstream(JOBS) as fake:
        fake.script(generating(), Step("success"))
        fake.provider_row(priority=1)
        made = [
            services.submit(user=alice, model=JOBS.model, input=JOBS.input) for _ in range(COUNT)
        ]
        done = [finish(generation, timeout=60) for generation in made]
        first_polls = sorted({r.query["taskId"][0]: r.at for r in fake.polls}.values())

    assert [g.state for g in done] == [Generation.SUCCESS] * COUNT, [g.fail_msg for g in done]
    assert len(first_polls) == COUNT
    # Sent one after another, twenty 1 s answers would spread the first polls
    # over twenty seconds; sent together, most arrive within one answer's time.
    overlapping = max(
        sum(1 for later in first_polls if start <= later < start + SLOW) for start in first_polls
    )
    assert overlapping >= COUNT // 2, first_polls


def test_a_claimed_poll_is_not_claimed_again_until_its_lease_ends(alice):
    upstream = Provider.objects.create(name="up", kind=Provider.JOBS, base_url="http://127.0.0.1:9")
    generation = services.submit(user=alice, model=JOBS.model, input=JOBS.input)
    Generation.objects.filter(pk=generation.pk).update(
        state=Generation.GENERATING, provider=upstream, upstream_ref="task-1", next_poll_at=None
    )

    (first,) = lifecycle.claim_polls("poller-a:1", 10)
    assert first.pk == generation.pk and first.lease_holder == "poller-a:1"
    assert lifecycle.claim_polls("poller-b:1", 10) == []  # another poller finds nothing to take

    # The first poller died: once its lease has run out, the poll is taken up.
    Generation.objects.filter(pk=generation.pk).update(lease_expires_at=timezone.now())
    (again,) = lifecycle.claim_polls("poller-b:2", 10)
    assert again.lease_holder == "poller-b:2"
    # The dead poller's answer, had it come, would change nothing now.
    assert not lifecycle.schedule_poll(generation.pk, "poller-a:1", timezone.now())


def test_a_failed_upstream_task_is_settled_by_the_poller(worker, alice):
    Provider.objects.filter(kind=Provider.LOCAL).update(enabled=False)
    with FakeUpstream(JOBS) as fake:
        fake.script(Step("fail", fail_code="CONTENT_VIOLATION", fail_msg="blocked upstream"))
        fake.provider_row(priority=1)
        generation = finish(services.submit(user=alice, model=JOBS.model, input=JOBS.input))

    assert (generation.state, generation.fail_code) == (Generation.FAIL, "CONTENT_VIOLATION")
    events = list(generation.events.values_list("worker", flat=True))
    assert any(":poller:" in name for name in events), json.dumps(events)


def test_a_refused_submit_falls_back_to_the_local_renderer_through_a_worker(worker, alice):
    with FakeUpstream(JOBS) as fake:
        fake.on_submit(envelope(402, "Insufficient credits"), envelope(402, "Insufficient credits"))
        fake.provider_row(priority=1)
        generation = finish(services.submit(user=alice, model=JOBS.model, input=JOBS.input))

    assert generation.state == Generation.SUCCESS, generation.fail_msg
    assert generation.provider.kind == Provider.LOCAL
    notes = list(generation.events.values_list("note", flat=True))
    # The poller tried the upstream, then left the renderer to a worker.
    assert "to the workers" in notes
    assert "submitting to fake jobs" in notes
    assert any(note.startswith("refused: fake jobs") for note in notes), notes


def test_queued_submits_are_claimed_by_team_in_turn(alice, carol):
    """Team A queued six, team B one after them: B's is among the first claimed."""
    ledger.grant(carol.profile.team.wallet, Decimal("100.00"), note="one generation")
    Provider.objects.create(
        name="up", kind=Provider.JOBS, base_url="http://127.0.0.1:9", priority=1
    )
    for _ in range(6):
        services.submit(user=alice, model=JOBS.model, input=JOBS.input)
    late = services.submit(user=carol, model=JOBS.model, input=JOBS.input)
    assert late.provider_id is not None  # left to the pollers, not a worker

    first_two = claim_submits("poller:1", 2)

    assert {g.owner for g in first_two} == {alice, carol}
    assert all(g.state == Generation.GENERATING for g in first_two)


def test_a_result_url_that_stopped_serving_is_polled_for_a_fresh_one(worker, alice):
    """A signed URL that expired while its copy queued: the worker asks for a new one."""
    Provider.objects.filter(kind=Provider.LOCAL).update(enabled=False)
    with FakeUpstream(JOBS) as fake:
        fake.server.route("/files/expired.mp4", body=b"link expired", status=403)
        expired = Step("success", result_urls=[fake.url + "/files/expired.mp4"])
        fake.script(Step("running"), expired, Step("success"))
        fake.provider_row(priority=1)
        generation = finish(services.submit(user=alice, model=JOBS.model, input=JOBS.input))
        polls = len(fake.polls)
        downloads = [r.path for r in fake.server.requests if r.path.startswith("/files/")]

    assert generation.state == Generation.SUCCESS, generation.fail_msg
    assert polls == 3
    assert downloads[0] == "/files/expired.mp4" and "/files/result.mp4" in downloads
