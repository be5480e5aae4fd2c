"""Budgets per member and per API key: refused before anything is held, on every contract."""

import json
import zoneinfo
from datetime import datetime, timedelta
from decimal import Decimal

import openai
import pytest
import replicate
from django.utils import timezone
from replicate.exceptions import ReplicateError

from accounts import apikeys, budgets, ledger
from accounts.models import Budget, CreditHold
from playground import services
from playground.models import Generation
from tests.test_api_seed_examples import example

PROMPT = "A lighthouse in a storm, waves crashing, cinematic"
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def submit(user, api_key=None):
    """A kling/v2-1 generation: 55.00 credits."""
    return services.submit(user=user, api_key=api_key, model="kling/v2-1", input={"prompt": PROMPT})


def at(*args, zone=BERLIN) -> datetime:
    return datetime(*args, tzinfo=zone)


@pytest.mark.parametrize(
    "period, now, start, end",
    [
        ("day", at(2026, 10, 25, 12), at(2026, 10, 25), at(2026, 10, 26)),  # 25 hours long
        ("week", at(2026, 12, 6, 23, 59), at(2026, 11, 30), at(2026, 12, 7)),  # Sunday night
        ("week", at(2026, 12, 7), at(2026, 12, 7), at(2026, 12, 14)),  # Monday's midnight
        ("month", at(2026, 12, 31, 23), at(2026, 12, 1), at(2027, 1, 1)),
        (
            "month",
            at(2027, 3, 31, 22, zone=zoneinfo.ZoneInfo("UTC")),
            at(2027, 4, 1),
            at(2027, 5, 1),
        ),
    ],
)
def test_periods_are_calendar_periods_in_the_teams_time_zone(period, now, start, end):
    assert budgets.period_bounds(period, BERLIN, now) == (start, end)


def test_a_day_when_the_clocks_go_back_is_25_hours_long():
    start, end = budgets.period_bounds("day", BERLIN, at(2026, 10, 25, 12))
    # Subtracted in UTC: Python subtracts two times of one zone by their wall clocks.
    utc = zoneinfo.ZoneInfo("UTC")
    assert end.astimezone(utc) - start.astimezone(utc) == timedelta(hours=25)


def test_a_lifetime_budget_has_no_period():
    assert budgets.period_bounds("none", BERLIN, timezone.now()) == (None, None)


def test_a_member_past_their_budget_is_refused_naming_it_and_nothing_is_held(alice, bob):
    team = bob.profile.team
    team.time_zone = "Europe/Berlin"
    team.save()
    budgets.set_budget(team, member=bob, limit="120", period="month")
    submit(bob)
    submit(bob)  # 110 of 120 used
    with pytest.raises(budgets.BudgetExceeded) as refused:
        submit(bob)
    message = str(refused.value)
    assert message.startswith(
        "The monthly budget of member bob is spent: 110.00 of 120.00 credits used, "
        "and this generation needs 55.00; it resets "
    )
    assert "(Europe/Berlin)" in message
    assert Generation.objects.filter(owner=bob).count() == 2
    assert CreditHold.objects.filter(member=bob).count() == 2
    submit(alice)  # alice has no budget of her own: the team's wallet still pays


def test_held_credits_count_until_released(bob, alice):
    budgets.set_budget(bob.profile.team, member=bob, limit="60", period="day")
    first = submit(bob)
    with pytest.raises(budgets.BudgetExceeded):
        submit(bob)
    ledger.release(first.hold_reference)
    submit(bob)
    use = budgets.remaining_for(bob.profile.team_id, bob.pk)
    assert (use.used, use.remaining) == (Decimal("55.00"), Decimal("5.00"))


def test_a_charge_counts_what_was_captured_not_what_was_held(alice):
    budgets.set_budget(alice.profile.team, member=alice, limit="100", period="none")
    first = submit(alice)
    ledger.capture(first.hold_reference, Decimal("20.00"))
    submit(alice)  # 20 + 55 of 100
    assert budgets.remaining_for(alice.profile.team_id, alice.pk).used == Decimal("75.00")


def test_generations_of_an_earlier_period_do_not_count(alice):
    budgets.set_budget(alice.profile.team, member=alice, limit="60", period="week")
    earlier = submit(alice)
    CreditHold.objects.filter(reference=earlier.hold_reference).update(
        created_at=timezone.now() - timedelta(days=8)
    )
    submit(alice)
    with pytest.raises(budgets.BudgetExceeded):
        submit(alice)


def test_a_key_budget_limits_that_key_only(alice):
    script, _ = apikeys.issue(alice, "nightly script")
    laptop, _ = apikeys.issue(alice, "laptop")
    budgets.set_budget(alice.profile.team, api_key=script, limit="55", period="day")
    submit(alice, script)
    with pytest.raises(budgets.BudgetExceeded, match=f"daily budget of API key {script.prefix}"):
        submit(alice, script)
    submit(alice, laptop)
    submit(alice)


def test_the_tightest_budget_is_the_one_that_remains(alice):
    key, _ = apikeys.issue(alice, "script")
    budgets.set_budget(alice.profile.team, member=alice, limit="300", period="month")
    budgets.set_budget(alice.profile.team, api_key=key, limit="100", period="month")
    submit(alice, key)
    assert budgets.remaining_for(alice.profile.team_id, alice.pk, key.pk).remaining == Decimal(
        "45.00"
    )
    assert budgets.remaining_for(alice.profile.team_id, alice.pk).remaining == Decimal("245.00")


def test_a_budget_is_for_a_member_or_a_key_and_never_negative(alice):
    key, _ = apikeys.issue(alice, "script")
    team = alice.profile.team
    with pytest.raises(ValueError):
        budgets.set_budget(team, limit="5", period="day")
    with pytest.raises(ValueError):
        budgets.set_budget(team, member=alice, api_key=key, limit="5", period="day")
    with pytest.raises(ValueError):
        budgets.set_budget(team, member=alice, limit="-1", period="day")
    with pytest.raises(ValueError):
        budgets.set_budget(team, member=alice, limit="5", period="year")
    budgets.set_budget(team, member=alice, limit="5", period="day")
    budgets.set_budget(team, member=alice, limit="7", period="week")  # changed, not added
    assert Budget.objects.get().limit == Decimal("7.00")


# Every contract refuses a spent budget with 402 and the budget's message.


@pytest.fixture
def spent(alice, alice_key):
    """alice's budget is spent: nothing more may be held for her."""
    budgets.set_budget(alice.profile.team, member=alice, limit="0", period="month")
    return alice_key


@pytest.mark.parametrize(
    "path, body",
    [
        ("/api/v1/jobs/createTask", {"model": "kling/v2-1", "input": {"prompt": PROMPT}}),
        ("/api/v1/video/generations", "002_kling-v2-6.json"),
        ("/api/v1/generateTask/kling-2-1", "004_kling-2-1_master-text-to-video.json"),
    ],
)
def test_the_jobs_contract_and_its_dialects_answer_402_naming_the_budget(client, spent, path, body):
    body = example(body) if isinstance(body, str) else body
    body.pop("callback_url", None)
    response = client.post(
        path,
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {spent}",
    )
    assert response.status_code == 402
    assert response.json()["code"] == 402
    assert response.json()["msg"].startswith("The monthly budget of member alice is spent: 0.00")
    assert not Generation.objects.exists()


def test_openai_raises_its_402_insufficient_quota_with_the_budgets_message(
    live_server, transactional_db, spent
):
    sdk = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=spent, max_retries=0)
    with pytest.raises(openai.APIStatusError) as caught:
        sdk.videos.create(prompt="A fox")
    assert (caught.value.status_code, caught.value.code) == (402, "insufficient_quota")
    assert "monthly budget of member alice" in caught.value.message
    assert not Generation.objects.exists()


def test_replicate_raises_its_error_with_402_and_the_budgets_message(
    live_server, transactional_db, spent
):
    sdk = replicate.Client(api_token=spent, base_url=live_server.url)
    with pytest.raises(ReplicateError) as caught:
        sdk.models.predictions.create(model="google/veo-3-1", input={"prompt": "A paper boat"})
    assert caught.value.status == 402
    assert "monthly budget of member alice" in caught.value.detail
    assert not Generation.objects.exists()


def test_the_playground_says_the_budget_is_spent(client, alice):
    budgets.set_budget(alice.profile.team, member=alice, limit="10", period="day")
    client.force_login(alice)
    response = client.post("/models/kling/v2-1/", {"prompt": PROMPT}, HTTP_HX_REQUEST="true")
    assert "The daily budget of member alice is spent" in response.content.decode()
    assert not Generation.objects.exists()


def test_a_member_sees_their_budget_in_the_header_and_generate_waits_for_it(client, alice, bob):
    budgets.set_budget(bob.profile.team, member=bob, limit="30", period="week")
    client.force_login(bob)
    content = client.get("/models/kling/v2-1/").content.decode()
    assert "500.00 credits" in content and "· 30.00 left of your budget" in content
    assert "This costs 55.00 credits; your budget leaves 30.00." in content
    assert 'id="generate" form="model-form" class="short" disabled' in content
    client.force_login(alice)  # no budget of her own: the wallet's credits are hers to spend
    content = client.get("/models/kling/v2-1/").content.decode()
    assert "left of your budget" not in content and 'class="short"' not in content
