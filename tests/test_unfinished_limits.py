"""Unfinished generations per member and per team (API_MAX_UNFINISHED_PER_MEMBER,
_PER_TEAM): refused with 429, Retry-After and the limit named, in each
contract's shape and in the playground; nothing is made or held.

The concurrent drill of the team's limit is in tests/reliability/test_unfinished_limit.py.
"""

from decimal import Decimal

import pytest

from accounts import apikeys, ledger
from accounts.models import CreditHold
from playground import services
from playground.models import Generation

pytestmark = pytest.mark.django_db

JOB = {"model": "kling/v2-1", "input": {"prompt": "A red fox in snow", "resolution": "480p"}}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def create_task(client, key: str):
    return client.post(
        "/api/v1/jobs/createTask", JOB, content_type="application/json", headers=bearer(key)
    )


@pytest.fixture
def bobs_key(bob):
    ledger.grant(bob.profile.team.wallet, Decimal("500.00"), note="test credits")
    return apikeys.issue(bob, "bob's key")[1]


def test_a_member_past_the_member_limit_is_refused_whichever_key_they_use(
    client, alice, alice_key, bobs_key, settings
):
    settings.API_MAX_UNFINISHED_PER_MEMBER = 2
    _, second_key = apikeys.issue(alice, "second key")
    assert create_task(client, alice_key).status_code == 200
    assert create_task(client, second_key).status_code == 200

    refused = create_task(client, second_key)

    assert refused.status_code == 429
    assert refused["Retry-After"] == "5"
    assert refused.json() == {
        "code": 429,
        "msg": "Too many unfinished tasks: 2 of 2 allowed for this member. "
        "Wait for some to finish.",
        "data": None,
    }
    assert Generation.objects.filter(owner=alice).count() == 2
    assert CreditHold.objects.filter(member=alice).count() == 2
    assert create_task(client, bobs_key).status_code == 200  # a teammate has a limit of their own


def test_a_team_past_the_team_limit_is_refused_for_every_member_but_not_other_teams(
    client, team, alice_key, bobs_key, carol, settings
):
    settings.API_MAX_UNFINISHED_PER_TEAM = 3
    _, carols_key = apikeys.issue(carol, "carol's key")
    for key in (alice_key, alice_key, bobs_key):
        assert create_task(client, key).status_code == 200

    refused = create_task(client, bobs_key)

    assert refused.status_code == 429
    assert refused.json()["msg"].startswith(
        "Too many unfinished tasks: 3 of 3 allowed for this team."
    )
    assert Generation.objects.filter(team=team).count() == 3
    assert create_task(client, carols_key).status_code == 200


def test_finished_generations_free_the_team_limit(client, alice, alice_key, settings):
    settings.API_MAX_UNFINISHED_PER_TEAM = 1
    assert create_task(client, alice_key).status_code == 200
    assert create_task(client, alice_key).status_code == 429
    services.cancel(Generation.objects.get(owner=alice))

    assert create_task(client, alice_key).status_code == 200


def test_the_openai_and_replicate_contracts_refuse_in_their_own_shapes(client, alice_key, settings):
    settings.API_MAX_UNFINISHED_PER_TEAM = 1
    assert create_task(client, alice_key).status_code == 200

    video = client.post(
        "/v1/videos",
        {"model": "kling/v2-1", "prompt": "A red fox"},
        content_type="application/json",
        headers=bearer(alice_key),
    )
    prediction = client.post(
        "/v1/models/kling/v2-1/predictions",
        {"input": JOB["input"]},
        content_type="application/json",
        headers=bearer(alice_key),
    )

    assert video.status_code == 429
    assert video["Retry-After"] == "5"
    error = video.json()["error"]
    assert error["code"] == "too_many_tasks"
    assert "1 of 1 allowed for this team" in error["message"]
    assert prediction.status_code == 429
    assert prediction["Retry-After"] == "5"
    assert prediction["Content-Type"] == "application/problem+json"
    assert "1 of 1 allowed for this team" in prediction.json()["detail"]
    assert Generation.objects.count() == 1


def test_the_playground_says_the_member_limit_and_makes_nothing(client, alice, settings):
    settings.API_MAX_UNFINISHED_PER_MEMBER = 1
    client.force_login(alice)
    form = {"prompt": "A red fox in snow"}
    client.post("/models/kling/v2-1/", form)
    assert Generation.objects.count() == 1

    answer = client.post("/models/kling/v2-1/", form)

    assert "Too many unfinished tasks: 1 allowed for this member." in answer.content.decode()
    assert Generation.objects.count() == 1
