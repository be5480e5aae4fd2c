"""A second Reelgate process as the upstream provider of the first, once per
contract: the adapters speak to the real thing, not only to fakes."""

import json
from decimal import Decimal

import pytest

from accounts.models import CreditAccount
from playground import services
from playground.models import Generation, Provider
from tests.processes import wait_for

PROMPT = "A glass of water on a windowsill, morning light"


@pytest.fixture
def chained(upstream_reelgate, worker, local_renderer):
    url, key = upstream_reelgate

    def provider(kind: str) -> Provider:
        # The local renderer stays as the fallback; the upstream goes first.
        return Provider.objects.create(
            name=f"upstream {kind}",
            kind=kind,
            base_url=url,
            credentials={"api_key": key},
            priority=1,
        )

    return provider


def finished(generation: Generation, timeout: float = 90) -> Generation:
    def done():
        generation.refresh_from_db()
        return generation.is_finished

    wait_for(done, timeout=timeout, message=f"{generation.task_id} to finish")
    return generation


CASES = [
    (Provider.JOBS, "kling/v2-1", {"resolution": "480p"}),
    (
        Provider.VIDEO_GENERATIONS,
        "kling-v2-6",
        {"mode": "std", "duration": "5", "aspect_ratio": "1:1"},
    ),
    (Provider.GENERATE_TASK, "kling-2-1", {"mode": "master-text-to-video", "duration": "5"}),
]


@pytest.mark.parametrize(("kind", "model", "input"), CASES, ids=[c[0] for c in CASES])
def test_a_second_reelgate_makes_the_video(chained, alice, kind, model, input):
    provider = chained(kind)
    generation = services.submit(user=alice, model=model, input={"prompt": PROMPT, **input})
    finished(generation)
    assert generation.state == Generation.SUCCESS, generation.fail_msg
    assert generation.provider == provider
    assert generation.upstream_ref.startswith("gen_")  # the upstream's own task id
    assert generation.width and generation.height and generation.size_bytes > 0
    account = CreditAccount.objects.get(team__members__user=alice)
    assert account.balance == Decimal("500.00") - generation.quoted_credits
    assert generation.charged_credits == generation.quoted_credits


@pytest.mark.parametrize(("kind", "model", "input"), CASES, ids=[c[0] for c in CASES])
def test_an_upstream_failure_keeps_its_reason_and_charges_nothing(
    chained, alice, kind, model, input
):
    chained(kind)
    generation = services.submit(
        user=alice,
        model=model,
        input={"prompt": f"an upstreamblocked scene {json.dumps(kind)}", **input},
    )
    finished(generation)
    assert generation.state == Generation.FAIL
    assert generation.fail_code == "CONTENT_VIOLATION"
    assert "upstreamblocked" in generation.fail_msg
    account = CreditAccount.objects.get(team__members__user=alice)
    assert (account.balance, account.held) == (Decimal("500.00"), Decimal("0.00"))
