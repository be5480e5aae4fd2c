"""Routing between providers: priority, then price, then weight; failover; the circuit breaker."""

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.models import CreditAccount
from playground import providers, services, tasks
from playground.models import Generation, Provider
from playground.providers import breaker, health
from tests.contract.fakes import (
    JOBS,
    VIDEO_GENERATIONS,
    FakeUpstream,
    Step,
    envelope,
    finish,
)
from tests.httpservers import Reply
from tests.processes import wait_for

pytestmark = pytest.mark.django_db

MODEL = "kling-v2-6"


def upstream(name: str, **fields) -> Provider:
    fields.setdefault("kind", Provider.JOBS)
    fields.setdefault("base_url", "http://127.0.0.1:9")
    return Provider.objects.create(name=name, **fields)


def names(rows) -> list[str]:
    return [row.name for row in rows]


def test_priority_comes_first_then_the_cheapest():
    Provider.objects.all().delete()
    upstream("dear", priority=10, costs={MODEL: "0.90"})
    upstream("cheap", priority=10, costs={MODEL: "0.30"})
    upstream("first", priority=5, costs={MODEL: "5.00"})
    upstream("other-model-cheap", priority=10, costs={"kling-v3": "0.01"})

    assert names(providers.route(MODEL)) == [
        "first",
        "cheap",
        "dear",
        "other-model-cheap",  # no cost for this model: after those with one
    ]


def test_equal_providers_share_the_work_by_weight():
    Provider.objects.all().delete()
    upstream("heavy", priority=10, weight=3)
    upstream("light", priority=10, weight=1)

    firsts = Counter(providers.route(MODEL)[0].name for _ in range(2000))

    # 3:1 expected; 2,000 draws keep the share within a few points of 75 %.
    assert 0.70 < firsts["heavy"] / 2000 < 0.80


def test_disabled_providers_and_other_models_are_not_routed():
    Provider.objects.all().delete()
    upstream("off", enabled=False)
    upstream("veo-only", model_ids=["google/veo-3-1"])
    upstream("all")
    assert names(providers.route(MODEL)) == ["all"]


def test_the_breaker_opens_after_the_streak_and_closes_on_an_answer(settings):
    settings.PROVIDER_BREAKER_FAILURES = 3
    Provider.objects.all().delete()
    flaky = upstream("flaky", priority=1)
    upstream("spare", priority=2)

    for n in range(2):
        breaker.failed(flaky.pk, f"refused {n}")
    assert names(providers.route(MODEL)) == ["flaky", "spare"]
    breaker.failed(flaky.pk, "refused 2")
    flaky.refresh_from_db()
    assert flaky.cooling_until is not None
    assert flaky.last_error == "refused 2"
    # Passed over while open, but still tried last: a model it alone serves gets an answer.
    assert names(providers.route(MODEL)) == ["spare", "flaky"]

    # The cool-down ends: tried first again; one more failure reopens it at once.
    Provider.objects.filter(pk=flaky.pk).update(
        cooldown_until=timezone.now() - timedelta(seconds=1)
    )
    assert names(providers.route(MODEL)) == ["flaky", "spare"]
    breaker.failed(flaky.pk, "still down")
    assert names(providers.route(MODEL)) == ["spare", "flaky"]

    breaker.answered(flaky.pk)
    flaky.refresh_from_db()
    assert (flaky.failure_streak, flaky.cooling_until) == (0, None)
    assert names(providers.route(MODEL)) == ["flaky", "spare"]


def test_a_create_routes_on_rows_read_at_most_a_snapshot_ago():
    """Another process's change (an UPDATE sends no signal here) is seen once the
    snapshot is older than its max age; a save in this process at once."""
    Provider.objects.all().delete()
    first = upstream("first", priority=1)
    upstream("second", priority=2)
    assert names(providers.route(MODEL, max_age=60)) == ["first", "second"]

    Provider.objects.filter(pk=first.pk).update(enabled=False)
    assert names(providers.route(MODEL, max_age=60)) == ["first", "second"]  # the snapshot
    assert names(providers.route(MODEL)) == ["second"]  # workers read afresh
    wait_for(
        lambda: names(providers.route(MODEL, max_age=0.2)) == ["second"],
        timeout=5,
        message="the snapshot to age past its max age",
    )

    first.enabled = True
    first.save()
    assert names(providers.route(MODEL, max_age=60)) == ["first", "second"]


def test_an_opening_breaker_reroutes_the_next_create_at_once(settings):
    settings.PROVIDER_BREAKER_FAILURES = 1
    Provider.objects.all().delete()
    flaky = upstream("flaky", priority=1)
    upstream("spare", priority=2)
    assert names(providers.route(MODEL, max_age=60)) == ["flaky", "spare"]

    breaker.failed(flaky.pk, "refused")
    assert names(providers.route(MODEL, max_age=60)) == ["spare", "flaky"]
    breaker.answered(flaky.pk)
    assert names(providers.route(MODEL, max_age=60)) == ["flaky", "spare"]


def test_a_refusing_upstream_fails_over_and_its_breaker_opens(worker, alice, settings):
    # The worker processes read the breaker's threshold from their own settings (5).
    with FakeUpstream(JOBS) as refusing, FakeUpstream(VIDEO_GENERATIONS) as healthy:
        refusing.on_submit(*[envelope(402, "Insufficient credits")] * 5)
        first = refusing.provider_row(
            name="refusing", priority=1, model_ids=[VIDEO_GENERATIONS.model]
        )
        second = healthy.provider_row(name="healthy", priority=2)
        healthy.script(Step("success"))
        made = []
        for _ in range(6):
            generation = services.submit(
                user=alice, model=VIDEO_GENERATIONS.model, input=VIDEO_GENERATIONS.input
            )
            made.append(finish(generation))

    assert [g.state for g in made] == [Generation.SUCCESS] * 6
    assert {g.provider_id for g in made} == {second.pk}
    # Five refusals opened the breaker: the sixth went straight to the healthy one.
    assert len(refusing.submits) == 5
    first.refresh_from_db()
    assert first.cooling_until is not None
    assert "Insufficient credits" in first.last_error
    figures = health.health(second)
    assert (figures.submits, figures.succeeded) == (6, 6)
    assert figures.median_seconds is not None and figures.p95_seconds >= figures.median_seconds


def test_an_ambiguous_submit_never_fails_over(worker, alice):
    with FakeUpstream(JOBS) as maybe, FakeUpstream(VIDEO_GENERATIONS) as spare:
        maybe.on_submit(Reply.json({"code": 500, "msg": "Internal error"}, status=500))
        maybe.provider_row(name="maybe", priority=1)
        spare.provider_row(name="spare", priority=2)
        generation = finish(
            services.submit(
                user=alice, model=VIDEO_GENERATIONS.model, input=VIDEO_GENERATIONS.input
            )
        )

    assert generation.state == Generation.FAIL
    assert generation.fail_code == "UPSTREAM_AMBIGUOUS"
    assert "code 500" in generation.fail_msg and "not submitted again" in generation.fail_msg
    assert spare.submits == []  # a second paid task is never opened elsewhere
    account = CreditAccount.objects.get(team__members__user=alice)
    assert (account.balance, account.held) == (Decimal("500.00"), Decimal("0.00"))


def test_the_upstream_cost_is_kept_beside_the_charge(worker, alice):
    with FakeUpstream(VIDEO_GENERATIONS) as fake:
        fake.provider_row(priority=1, costs={VIDEO_GENERATIONS.model: "0.2800"})
        generation = finish(
            services.submit(
                user=alice, model=VIDEO_GENERATIONS.model, input=VIDEO_GENERATIONS.input
            )
        )
    assert generation.state == Generation.SUCCESS, generation.fail_msg
    assert generation.upstream_cost_usd == Decimal("0.2800")
    assert generation.charged_credits == generation.quoted_credits


# manage.py provider


def test_the_command_adds_lists_tests_and_disables_a_provider(capsys, monkeypatch):
    monkeypatch.setenv("TEST_UPSTREAM_KEY", "sk-from-the-environment-1234")
    with FakeUpstream(JOBS) as fake:
        fake.key = "sk-from-the-environment-1234"
        fake.server.route(
            "/api/v1/chat/credit",
            Reply.json({"code": 200, "msg": "success", "data": 7}),
        )
        call_command(
            "provider",
            "add",
            "kie",
            "--kind",
            "jobs",
            "--base-url",
            fake.url,
            "--credential-env",
            "api_key=TEST_UPSTREAM_KEY",
            "--model",
            "kling-v2-6=kling/v2-6-pro",
            "--model",
            "kling-v3",
            "--cost",
            "kling-v2-6=0.35",
            "--priority",
            "3",
        )
        row = Provider.objects.get(name="kie")
        assert row.credentials == {"api_key": "sk-from-the-environment-1234"}
        assert row.model_ids == ["kling-v2-6", "kling-v3"]
        assert row.model_map == {"kling-v2-6": "kling/v2-6-pro"}
        assert row.cost_for("kling-v2-6") == Decimal("0.35")

        call_command("provider", "test", "kie")
        call_command("provider", "list")
        out = capsys.readouterr().out
        assert "credentials accepted; balance: 7" in out
        assert "kie\tjobs\tenabled\tpriority 3" in out
        assert "sk-from-the-environment-1234" not in out

    call_command("provider", "disable", "kie")
    assert Provider.objects.get(name="kie").enabled is False
    with pytest.raises(CommandError, match="Connection refused|could not connect"):
        call_command("provider", "test", "kie")


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--kind", "jobs", "--model", "no-such-model"], "no-such-model"),
        (["--kind", "jobs", "--credential", "password=x"], "Unknown credential password"),
        (["--kind", "jobs", "--credential-env", "api_key=NOT_SET_ANYWHERE"], "NOT_SET_ANYWHERE"),
        (["--kind", "jobs", "--cost", "kling-v3=lots"], "amount in USD"),
        ([], "--kind is required"),
    ],
)
def test_the_command_refuses_what_it_cannot_store(arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("provider", "add", "bad", *arguments)
    assert not Provider.objects.filter(name="bad").exists()


def test_a_rate_limited_generation_waits_for_the_upstream_instead_of_failing(worker, alice):
    Provider.objects.filter(kind=Provider.LOCAL).update(enabled=False)  # the only provider
    with FakeUpstream(VIDEO_GENERATIONS) as busy:
        busy.on_submit(envelope(429, "Too many requests", headers={"Retry-After": "1"}))
        busy.provider_row(name="busy", priority=1, model_ids=[VIDEO_GENERATIONS.model])
        generation = finish(
            services.submit(
                user=alice, model=VIDEO_GENERATIONS.model, input=VIDEO_GENERATIONS.input
            )
        )
        first, second = busy.submits

    assert generation.state == Generation.SUCCESS, generation.fail_msg
    assert second.at - first.at >= 1.0  # it came back no sooner than asked
    notes = list(generation.events.values_list("to_state", "note"))
    assert (
        "queuing",
        "all refused: busy: the upstream refused the task (code 429: Too many requests)",
    ) in notes


@pytest.mark.django_db(transaction=True)
def test_a_refusal_of_the_input_does_not_count_against_the_provider(alice, settings):
    settings.PROVIDER_BREAKER_FAILURES = 2
    Provider.objects.filter(kind=Provider.LOCAL).update(enabled=False)
    with FakeUpstream(VIDEO_GENERATIONS) as strict:
        strict.on_submit(*[envelope(422, "duration must be 5 or 10")] * 3)
        row = strict.provider_row(name="strict", priority=1)
        for _ in range(3):
            generation = services.submit(
                user=alice, model=VIDEO_GENERATIONS.model, input=VIDEO_GENERATIONS.input
            )
            tasks.run_generation(generation.pk)
            generation.refresh_from_db()
            assert generation.fail_code == "UPSTREAM_ERROR"
            assert "duration must be 5 or 10" in generation.fail_msg

    row.refresh_from_db()
    assert (row.failure_streak, row.cooling_until) == (0, None)


def test_an_answer_from_a_provider_seen_closed_costs_no_statement(
    settings, django_assert_num_queries
):
    settings.PROVIDER_BREAKER_FAILURES = 1
    flaky = upstream("flaky", priority=1)
    with django_assert_num_queries(0):
        breaker.answered(flaky.pk, seen=flaky)  # read closed a moment ago: nothing to reset

    breaker.failed(flaky.pk, "refused")
    flaky.refresh_from_db()
    breaker.answered(flaky.pk, seen=flaky)  # read open: reset
    flaky.refresh_from_db()
    assert (flaky.failure_streak, flaky.cooling_until) == (0, None)
