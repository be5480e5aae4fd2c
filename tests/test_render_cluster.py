"""Local renders have a django-q2 cluster of their own (RENDER_WORKERS): a burst of
them never holds up the main cluster's work, such as copying an upstream's result."""

from decimal import Decimal

from django.utils import timezone

from accounts import ledger
from playground import services
from playground.models import Generation
from tests.contract.fakes import JOBS, FakeUpstream, Step, finish

RENDERED = "kling-v2-6"  # the local renderer's, not the fake upstream's
RENDER_INPUT = {"prompt": "A slow pan over a harbour at dusk", "mode": "std", "duration": "10"}
BURST = 4


def test_a_burst_of_local_renders_does_not_hold_up_an_upstream_result(worker, alice):
    ledger.grant(alice.profile.team.wallet, Decimal("5000.00"), note="a burst of renders")
    renders = [
        services.submit(user=alice, model=RENDERED, input=RENDER_INPUT) for _ in range(BURST)
    ]
    with FakeUpstream(JOBS) as fake:
        fake.script(Step("success"))
        fake.provider_row(priority=1, model_ids=[JOBS.model])
        upstream = finish(services.submit(user=alice, model=JOBS.model, input=JOBS.input))
        upstream_done = timezone.now()

    assert upstream.state == Generation.SUCCESS, upstream.fail_msg
    # The renders queue behind one another in their own cluster; the upstream
    # result was copied by the main cluster meanwhile.
    assert Generation.objects.filter(pk__in=[g.pk for g in renders], completed_at__isnull=True)
    done = [finish(generation, timeout=180) for generation in renders]
    assert [g.state for g in done] == [Generation.SUCCESS] * BURST, [g.fail_msg for g in done]
    assert all(g.completed_at > upstream_done for g in done[1:]), [g.completed_at for g in done]
    workers = {g.events.order_by("-pk").values_list("worker", flat=True).first() for g in done}
    assert workers.isdisjoint(
        {upstream.events.order_by("-pk").values_list("worker", flat=True).first()}
    )


def test_a_team_with_many_queued_renders_does_not_hold_up_another_teams_one(worker, alice, carol):
    """Team A queues five renders, team B then one: B's is rendered second, not sixth."""
    quick = {**RENDER_INPUT, "duration": "5"}
    team_a = [services.submit(user=alice, model=RENDERED, input=quick) for _ in range(5)]
    (team_b,) = [services.submit(user=carol, model=RENDERED, input=quick)]
    try:
        team_b = finish(team_b, timeout=120)
        assert team_b.state == Generation.SUCCESS, team_b.fail_msg
        started = sorted(
            Generation.objects.filter(
                pk__in=[g.pk for g in team_a], started_at__isnull=False
            ).values_list("started_at", flat=True)
        )
        # One render worker: A's first was under way when B's was queued;
        # then the teams take turns.
        assert len(started) <= 2 or team_b.started_at < started[1], (team_b.started_at, started)
    finally:
        for generation in team_a:
            services.cancel(generation)  # the render cluster is left free for the next test
