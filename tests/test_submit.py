"""The one submit service: validation, quote, hold, idempotency, cancel."""

from decimal import Decimal

import pytest

from accounts import ledger
from accounts.models import CreditAccount, CreditHold
from playground import catalog, services
from playground.models import Generation

PROMPT = "A lighthouse in a storm, waves crashing, cinematic"


def submit(user, **overrides):
    fields = {"user": user, "model": "kling/v2-1", "input": {"prompt": PROMPT}}
    fields.update(overrides)
    return services.submit(**fields)


def available(user) -> Decimal:
    return CreditAccount.objects.get(team__members__user=user).available()


def test_it_creates_a_queued_generation_and_holds_its_quote(alice):
    generation = submit(alice, input={"prompt": PROMPT, "resolution": "480p"})
    assert generation.state == Generation.QUEUING
    assert generation.next_poll_at > generation.created_at  # when the sweeper resends it
    assert generation.model_id == "kling/v2-1"
    assert generation.input["resolution"] == "480p"
    assert generation.input["aspect_ratio"] == "16:9"  # default filled in
    assert generation.quoted_credits == Decimal("55.00")
    assert generation.team == alice.profile.team
    hold = CreditHold.objects.get(reference=generation.hold_reference)
    assert (hold.amount, hold.state) == (Decimal("55.00"), CreditHold.OPEN)
    assert available(alice) == Decimal("445.00")
    assert generation.events.get().to_state == Generation.QUEUING


def test_it_resolves_an_alias_and_keeps_the_name_sent(alice):
    generation = submit(
        alice,
        model="kling-video/kling-v2-6",
        input={"prompt": PROMPT, "mode": "std", "duration": "5"},
    )
    assert (generation.model_id, generation.model_name) == ("kling-v2-6", "kling-video/kling-v2-6")


def test_invalid_input_creates_and_holds_nothing(alice):
    with pytest.raises(catalog.ValidationFailed) as error:
        submit(alice, input={"prompt": "", "resolution": "4k"})
    assert set(error.value.errors) >= {"prompt", "resolution"}
    with pytest.raises(catalog.UnknownModel):
        submit(alice, model="kling/v9")
    assert not Generation.objects.exists()
    assert available(alice) == Decimal("500.00")


def test_too_few_credits_creates_and_holds_nothing(alice):
    ledger.hold(alice.profile.team.wallet, "450", "something else")
    with pytest.raises(ledger.InsufficientCredits):
        submit(alice)
    assert not Generation.objects.exists()
    assert available(alice) == Decimal("50.00")


def test_an_idempotency_key_replays_the_first_generation(alice):
    from accounts import apikeys

    key, _ = apikeys.issue(alice)
    first = submit(alice, api_key=key, idempotency_key="abc")
    again = submit(alice, api_key=key, idempotency_key="abc")
    assert again.pk == first.pk
    assert Generation.objects.count() == 1
    assert available(alice) == Decimal("445.00")
    with pytest.raises(services.IdempotencyConflict):
        submit(alice, api_key=key, idempotency_key="abc", input={"prompt": "something else"})
    other = submit(alice, api_key=key, idempotency_key="def")
    assert other.pk != first.pk


def test_cancel_fails_the_generation_and_releases_the_hold(alice):
    generation = submit(alice)
    assert services.cancel(generation) is True
    generation.refresh_from_db()
    assert (generation.state, generation.fail_code) == (Generation.FAIL, "CANCELLED")
    assert generation.charged_credits == Decimal("0.00")
    assert available(alice) == Decimal("500.00")
    assert services.cancel(generation) is False  # finished: nothing to cancel
    assert CreditAccount.objects.get(team__members__user=alice).balance == Decimal("500.00")
