"""Drill: the callback receiver is down for a minute, then comes back.

Seed 002's policy scaled down ten times so the drill takes seconds: quick
retries 0.1, 0.2, 0.4 s (production: 1, 2, 4 s), background retries 3, 6,
12 s... (30 s, 1, 2 min...), a 180 s window (30 min), and the receiver down
for 6 s (60 s). In production the attempt at about 97 s reaches it; here
the one at about 10 s. Every callback must arrive exactly once after the
receiver is back, each refused attempt logged, every task charged once.
"""

import threading
import time
from decimal import Decimal

from playground.models import Generation
from playground.webhooks.models import Delivery
from tests.httpservers import LoopbackServer, Reply, _RequestHandler, _Server
from tests.processes import wait_for
from tests.reliability.conftest import assert_books_balance, wait_all_finished
from tests.reliability.stack import api_client, create_task, free_port, needs_services

pytestmark = needs_services

GRANTED = Decimal("500.00")
DOWN_SECONDS = 6
SCALED_POLICY = {
    "CALLBACK_QUICK_RETRIES": "0.1,0.2,0.4",
    "CALLBACK_RETRY_INTERVALS": "3,6,12,30,60",
    "CALLBACK_RETRY_WINDOW_SECONDS": "180",
    "CALLBACK_TIMEOUT_SECONDS": "2",
}
COUNT = 3


class ReceiverAt(LoopbackServer):
    """A LoopbackServer on a fixed port: it comes back where the callbacks point."""

    def __init__(self, port: int):
        super().__init__()
        self.fixed_port = port

    def start(self):
        self._server = _Server((self.host, self.fixed_port), _RequestHandler)
        self._server.owner = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self


def test_callbacks_reach_a_receiver_that_was_down_exactly_once(
    stacks, instant_provider, alice, alice_key
):
    port = free_port()  # nothing listens there yet: connections are refused
    stack = stacks(**SCALED_POLICY).start_all()
    with api_client(stack, alice_key) as client:
        task_ids = [
            create_task(
                stack,
                client,
                {
                    "model": "kling/v2-1",
                    "input": {"prompt": f"A paper boat #{n}", "resolution": "480p"},
                    "callBackUrl": f"http://127.0.0.1:{port}/hook",
                },
            )
            for n in range(COUNT)
        ]
    generations = wait_all_finished(task_ids, timeout=60, stacks=[stack])
    assert {g.state for g in generations} == {Generation.SUCCESS}
    finish_callbacks = Delivery.objects.filter(
        generation__task_id__in=task_ids, kind=Delivery.CALLBACK, event_type=""
    )

    def first_attempt():
        return finish_callbacks.exclude(first_attempt_at=None).order_by("first_attempt_at").first()

    first = wait_for(first_attempt, timeout=30, message="the first callback attempt")
    down_until = first.first_attempt_at.timestamp() + DOWN_SECONDS
    # The outage itself, not a wait for something to happen: the receiver
    # stays down DOWN_SECONDS from the first attempt, as the drill says.
    time.sleep(max(0.0, down_until - time.time()))

    back_up_at = time.time()
    with ReceiverAt(port) as receiver:
        receiver.route("/hook", Reply(body="ok"))

        def delivered():
            stack.assert_alive()
            return finish_callbacks.filter(status=Delivery.DELIVERED).count() == COUNT

        wait_for(delivered, timeout=60, interval=0.2, message="every callback to be delivered")
        received = receiver.requests_to("/hook")

    deliveries = list(finish_callbacks)
    assert len(deliveries) == COUNT
    by_message = {}
    for request in received:
        by_message.setdefault(request.header("webhook-id"), []).append(request)
    for delivery in deliveries:
        attempts = list(delivery.attempts.order_by("number"))
        refused, last = attempts[:-1], attempts[-1]
        # The first attempt and the 3 quick retries, then background ones.
        assert len(refused) >= 4, [(a.number, a.status, a.error) for a in attempts]
        assert all(a.status is None and a.error for a in refused)
        assert last.status == 200
        # Delivered only once the receiver was back; each delivery's own first
        # attempt may be later than the first one the downtime counts from.
        assert delivery.delivered_at.timestamp() >= back_up_at
        # Received exactly once, with the body the delivery holds.
        (request,) = by_message[delivery.message_id]
        assert request.body == delivery.body.encode()
        assert request.json()["data"]["taskId"] == delivery.task_id
    assert_books_balance(alice, generations, granted=GRANTED)
