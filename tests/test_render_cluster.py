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
    ledger.grant(alice.credit_account, Decimal("5000.00"), note="a burst of renders")
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
