"""Upstream callbacks: our URL handed to upstreams that call back, and the poll it wakes."""

from datetime import timedelta

import httpx
import pytest
from django.db import transaction
from django.utils import timezone

from playground import lifecycle, providers, services
from playground.models import Generation, Provider
from playground.providers import wakeup
from playground.providers.replicate import ReplicateProvider
from tests.contract.fakes import JOBS, FakeUpstream, keep_lease
from tests.contract.test_chained_reelgate import PROMPT
from tests.processes import wait_for

pytestmark = pytest.mark.django_db


def in_flight(generation: Generation, **fields) -> Generation:
    """The generation as the engine leaves it after an accepted submit."""
    upstream = Provider.objects.create(name="up", kind=Provider.JOBS, base_url="http://127.0.0.1:9")
    defaults = {"state": Generation.GENERATING, "provider": upstream, "upstream_ref": "t-1"}
    Generation.objects.filter(pk=generation.pk).update(**(defaults | fields))
    generation.refresh_from_db()
    return generation


def test_no_url_is_given_when_no_upstream_can_reach_us(alice, settings, tmp_path):
    settings.PUBLIC_BASE_URL = ""
    with FakeUpstream(JOBS) as fake:
        provider = providers.for_row(fake.provider_row())
        provider.start(
            services.submit(user=alice, model=JOBS.model, input=JOBS.input), tmp_path, keep_lease
        )
    assert "callBackUrl" not in fake.submits[0].json()


def test_the_upstream_is_given_our_url_and_a_callback_wakes_the_poll(
    alice, settings, client, tmp_path
):
    settings.PUBLIC_BASE_URL = "https://reelgate.example.com"
    generation = services.submit(user=alice, model=JOBS.model, input=JOBS.input)
    with FakeUpstream(JOBS) as fake:
        providers.for_row(fake.provider_row()).start(generation, tmp_path, keep_lease)
    url = fake.submits[0].json()["callBackUrl"]
    assert url.startswith(
        f"https://reelgate.example.com/api/upstream-callbacks/{generation.task_id}/"
    )

    later = timezone.now() + timedelta(minutes=5)
    in_flight(generation, next_poll_at=later)
    path = url.removeprefix("https://reelgate.example.com")
    # Its body is not read: whatever the upstream says, the poll asks it.
    answer = client.post(path, data={"state": "success"}, content_type="application/json")

    assert answer.status_code == 200
    generation.refresh_from_db()
    assert generation.next_poll_at <= timezone.now()  # due now
    assert generation.state == Generation.GENERATING  # nothing else changed


def test_a_wrong_token_or_method_wakes_nothing(alice, client):
    generation = in_flight(services.submit(user=alice, model=JOBS.model, input=JOBS.input))
    later = timezone.now() + timedelta(minutes=5)
    Generation.objects.filter(pk=generation.pk).update(next_poll_at=later)
    token = wakeup.token_for(generation.task_id)

    forged = client.post(f"/api/upstream-callbacks/{generation.task_id}/{'0' * len(token)}")
    other = client.post(f"/api/upstream-callbacks/gen_other/{token}")
    fetched = client.get(f"/api/upstream-callbacks/{generation.task_id}/{token}")

    assert (forged.status_code, other.status_code, fetched.status_code) == (404, 404, 405)
    generation.refresh_from_db()
    assert generation.next_poll_at == later


def test_a_callback_before_the_submits_answer_is_kept(alice):
    """The upstream calls back while our submit still waits for its answer."""
    generation = services.submit(user=alice, model=JOBS.model, input=JOBS.input)
    claimed = lifecycle.claim(generation.pk, "w1")  # submitting: next_poll_at cleared
    assert claimed.next_poll_at is None
    assert lifecycle.wake(generation.pk)

    first_poll = timezone.now() + timedelta(minutes=5)
    upstream = Provider.objects.create(name="up", kind=Provider.JOBS, base_url="http://127.0.0.1:9")
    assert lifecycle.handed_upstream(generation.pk, "w1", upstream.pk, "t-1", first_poll)

    generation.refresh_from_db()
    assert generation.next_poll_at < first_poll - timedelta(minutes=4)  # the wake-up won


def submitted_and_held(alice, row: Provider, tmp_path):
    """A generation submitted to `row` by this test, its next poll an hour away:
    (the generation, the upstream's answer, whether a callback brought the poll
    forward). Held by this test alone from its first commit: the session's
    poller and sweeper, sharing the database, must not submit or poll it."""
    far = timezone.now() + timedelta(hours=1)
    held = {"state": Generation.GENERATING, "lease_holder": "test", "lease_expires_at": far}
    with transaction.atomic():
        generation = services.submit(
            user=alice, model="kling/v2-1", input={"prompt": PROMPT, "resolution": "480p"}
        )
        Generation.objects.filter(pk=generation.pk).update(**held)
    outcome = providers.for_row(row).start(generation, tmp_path, keep_lease)
    Generation.objects.filter(pk=generation.pk).update(
        provider=row, upstream_ref=outcome.reference, next_poll_at=far
    )

    def woken() -> bool:
        return Generation.objects.filter(pk=generation.pk, next_poll_at__lt=far).exists()

    return generation, outcome, woken


@pytest.mark.django_db(transaction=True)
def test_a_second_reelgate_calls_back_the_first(
    upstream_reelgate, live_server, alice, settings, tmp_path
):
    """Two Reelgates chained: the upstream's task callback reaches ours and wakes the poll."""
    url, key = upstream_reelgate
    settings.PUBLIC_BASE_URL = live_server.url
    row = Provider.objects.create(
        name="upstream", kind=Provider.JOBS, base_url=url, credentials={"api_key": key}
    )
    _, _, woken = submitted_and_held(alice, row, tmp_path)

    # The upstream renders, then calls our URL; only that brings the poll forward.
    wait_for(woken, timeout=90, interval=0.2, message="the upstream's callback")


@pytest.mark.django_db(transaction=True)
def test_a_second_reelgate_on_the_replicate_contract_calls_back_signed(
    upstream_reelgate, live_server, alice, settings, tmp_path
):
    """Its webhook is signed as Replicate signs: checked with the secret it serves, it wakes."""
    url, key = upstream_reelgate
    settings.PUBLIC_BASE_URL = live_server.url
    ReplicateProvider.signing_secrets.clear()
    row = Provider.objects.create(
        name="upstream replicate",
        kind=Provider.REPLICATE,
        base_url=url,
        credentials={"api_key": key},
        options={"input_style": "reelgate"},
    )
    generation, outcome, woken = submitted_and_held(alice, row, tmp_path)

    wait_for(woken, timeout=90, interval=0.2, message="the upstream's signed webhook")
    # The same URL without the upstream's signature is refused: it was checked.
    ours = wakeup.callback_url(generation)
    unsigned = httpx.post(ours, json={"id": outcome.reference, "status": "succeeded"})
    assert unsigned.status_code == 401
