"""Task callbacks: seed 002's retry policy, the delivery log, SSRF, end to end.

Receivers are real HTTP servers on loopback. The end-to-end tests run the
real django-q2 cluster and sweeper (`worker`), whose background retries are
shrunk to 1 s apart over a short window (tests/conftest.py); the quick
retries keep their real 1, 2 and 4 s.
"""

import json
import threading

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.urls import reverse

from accounts.models import Profile
from config.settings import _seconds_list
from playground import services
from playground.models import Generation
from playground.webhooks import delivery, events
from playground.webhooks.models import Delivery, DeliveryAttempt
from tests.conftest import CALLBACK_TEST_WINDOW_SECONDS
from tests.httpservers import LoopbackServer, Reply
from tests.processes import never, wait_for
from tests.test_webhook_signing import finished_generation, verify_kie, verify_standard_webhooks

TOLERANCE = 0.7
PROMPT = "A paper boat drifting down a rainy street"
# The smallest, quickest render of the catalog.
FAST_INPUT = {"prompt": PROMPT, "resolution": "480p", "duration": 5}


@pytest.fixture
def receiver(settings):
    settings.ALLOW_PRIVATE_URLS = True
    with LoopbackServer() as server:
        yield server


def make_callback(user, url: str, state=Generation.SUCCESS) -> Delivery:
    generation = finished_generation(user, callback_url=url, state=state)
    (made,) = events.generation_finished(generation.pk)
    return made


def test_it_retries_after_1_then_2_seconds_and_stops_at_the_first_2xx(alice, receiver):
    receiver.route(
        "/hook",
        [Reply(status=500, body="down"), Reply(status=500, body="still down"), Reply(body="ok")],
    )
    made = make_callback(alice, receiver.url + "/hook")
    delivery.deliver(made.pk, 0)

    requests = receiver.requests_to("/hook")
    assert len(requests) == 3
    first = requests[0].at
    offsets = [request.at - first for request in requests]
    assert abs(offsets[1] - 1) <= TOLERANCE, offsets
    assert abs(offsets[2] - 3) <= TOLERANCE, offsets

    made.refresh_from_db()
    assert made.status == Delivery.DELIVERED
    assert made.attempt_count == 3
    assert made.first_attempt_at is not None and made.delivered_at is not None
    assert made.next_attempt_at is None and made.lease_holder == ""
    attempts = list(made.attempts.all())
    assert [a.status for a in attempts] == [500, 500, 200]
    assert [a.number for a in attempts] == [1, 2, 3]
    assert [a.response_excerpt for a in attempts] == ["down", "still down", "ok"]
    assert all(a.latency_ms is not None and a.latency_ms < 1000 for a in attempts)
    assert all(a.error == "" for a in attempts)

    secret = Profile.objects.get(user=alice).signing_secret()
    assert {r.header("webhook-id") for r in requests} == {made.message_id}
    for request in requests:
        assert request.body == made.body.encode()
        assert verify_standard_webhooks(secret, request.headers, request.body)
        assert verify_kie(secret, request.headers, made.task_id)


def test_it_keeps_an_excerpt_of_the_answer_and_the_reason_for_no_answer(alice, receiver, settings):
    settings.CALLBACK_QUICK_RETRIES = []
    settings.CALLBACK_TIMEOUT_SECONDS = 1
    receiver.route("/big", Reply(status=502, body="x" * 5000))
    receiver.route("/slow", Reply(status=200, delay=3))
    big = make_callback(alice, receiver.url + "/big")
    delivery.deliver(big.pk, 0)
    slow = make_callback(alice, receiver.url + "/slow")
    delivery.deliver(slow.pk, 0)

    (answered,) = DeliveryAttempt.objects.filter(delivery=big)
    assert answered.status == 502 and answered.response_excerpt == "x" * 500
    (timed_out,) = DeliveryAttempt.objects.filter(delivery=slow)
    assert timed_out.status is None and "timed out" in timed_out.error
    assert 900 <= timed_out.latency_ms < 3000
    for item in (big, slow):
        item.refresh_from_db()
        # Not delivered: left pending for a background retry, the lease released.
        assert item.status == Delivery.PENDING
        assert item.lease_holder == "" and item.next_attempt_at is not None


def test_a_refused_url_is_recorded_and_never_sent(alice, receiver, settings):
    settings.ALLOW_PRIVATE_URLS = False
    receiver.route("/hook", Reply(status=200))
    made = make_callback(alice, receiver.url + "/hook")
    delivery.deliver(made.pk, 0)

    assert receiver.requests == []
    made.refresh_from_db()
    assert made.status == Delivery.FAILED
    assert made.next_attempt_at is None
    (attempt,) = made.attempts.all()
    assert attempt.status is None
    assert "loopback address" in attempt.error
    assert delivery.dispatch_due(made.created_at.replace(year=3000)) == 0


def test_a_duplicate_task_does_not_send_in_parallel(transactional_db, alice, receiver):
    receiver.route("/hook", Reply(status=200, delay=0.5))
    made = make_callback(alice, receiver.url + "/hook")

    def run():
        try:
            delivery.deliver(made.pk, 0)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # A worker process started by other tests of the session may have taken
    # the queued task first: either way exactly one request goes out.
    receiver.wait_for_requests(1, timeout=15)

    def delivered():
        made.refresh_from_db()
        return made.status == Delivery.DELIVERED

    wait_for(delivered, timeout=15, message="the delivery to be marked delivered")
    delivery.deliver(made.pk, 0)  # once more, after the work is done
    # Whatever that call sent arrived before it returned (the receiver records
    # a request before answering it). The queued task may still be run by a
    # worker of the session at any time, and nothing marks that it was: a
    # second request gets a bounded time to show.
    never(lambda: len(receiver.requests) > 1, seconds=0.7, message="a second request")

    assert len(receiver.requests) == 1
    made.refresh_from_db()
    assert (made.status, made.attempt_count) == (Delivery.DELIVERED, 1)


def test_the_sweeper_dispatches_only_due_deliveries_once(alice, receiver, settings):
    settings.CALLBACK_QUICK_RETRIES = []
    receiver.route("/hook", Reply(status=500))
    made = make_callback(alice, receiver.url + "/hook")
    delivery.deliver(made.pk, 0)
    made.refresh_from_db()
    assert made.status == Delivery.PENDING
    due = made.next_attempt_at

    assert delivery.dispatch_due(due.replace(year=due.year - 1)) == 0
    assert delivery.dispatch_due(due) == 1
    assert delivery.dispatch_due(due) == 0  # claimed: not queued twice


def test_no_callback_url_means_no_callback(alice):
    generation = finished_generation(alice)
    assert events.generation_finished(generation.pk) == []
    assert events.generation_finished(generation.pk) == []
    assert not Delivery.objects.exists()


def test_the_hand_off_makes_each_delivery_once(alice, receiver):
    generation = finished_generation(alice, callback_url=receiver.url + "/hook")
    assert len(events.generation_finished(generation.pk)) == 1
    assert events.generation_finished(generation.pk) == []
    assert Delivery.objects.filter(generation=generation).count() == 1


def test_retry_settings_fail_loudly(monkeypatch):
    monkeypatch.setenv("CALLBACK_RETRY_INTERVALS", "30,soon")
    with pytest.raises(ImproperlyConfigured, match="CALLBACK_RETRY_INTERVALS"):
        _seconds_list("CALLBACK_RETRY_INTERVALS", "30", allow_empty=False)
    monkeypatch.setenv("CALLBACK_RETRY_INTERVALS", "")
    with pytest.raises(ImproperlyConfigured, match="at least one"):
        _seconds_list("CALLBACK_RETRY_INTERVALS", "30", allow_empty=False)
    monkeypatch.setenv("CALLBACK_QUICK_RETRIES", "")
    assert _seconds_list("CALLBACK_QUICK_RETRIES", "1,2,4", allow_empty=True) == []


def test_the_admin_lists_deliveries_and_redelivers(admin_client, alice, receiver):
    receiver.route("/hook", Reply(status=200))
    made = make_callback(alice, receiver.url + "/hook?token=abc")
    delivery.deliver(made.pk, 0)

    changelist = reverse("admin:playground_delivery_changelist")
    page = admin_client.get(changelist, {"status__exact": "delivered", "kind__exact": "callback"})
    assert page.status_code == 200
    assert made.task_id in page.text
    assert "token=abc" not in page.text  # the list shows URLs without their query
    detail = admin_client.get(reverse("admin:playground_delivery_change", args=[made.pk]))
    assert detail.status_code == 200
    assert "HTTP 200" in detail.text or ">200<" in detail.text

    answer = admin_client.post(
        changelist, {"action": "redeliver", "_selected_action": [made.pk]}, follow=True
    )
    assert "Queued 1" in answer.text
    made.refresh_from_db()
    assert (made.status, made.round_attempts) == (Delivery.PENDING, 0)
    delivery.deliver(made.pk, made.attempt_count)
    made.refresh_from_db()
    assert (made.status, made.attempt_count) == (Delivery.DELIVERED, 2)
    assert len(receiver.requests) == 2


# End to end: the real worker and sweeper


def callbacks_to(receiver, path: str, count: int = 1, timeout: float = 60):
    return receiver.wait_for_requests(count, path=path, timeout=timeout)


def test_a_finished_generation_calls_back_once_with_the_jobs_payload(worker, alice, receiver):
    receiver.route("/done", Reply(status=200, body="thanks"))
    generation = services.submit(
        user=alice,
        model="kling/v2-1",
        input=FAST_INPUT,
        request={"model": "kling/v2-1", "input": FAST_INPUT},
        callback_url=receiver.url + "/done",
    )
    (request,) = callbacks_to(receiver, "/done")
    body = request.json()
    assert body["code"] == 200 and body["msg"] == "success"
    data = body["data"]
    assert (data["taskId"], data["state"]) == (generation.task_id, "success")
    assert json.loads(data["param"]) == {"model": "kling/v2-1", "input": FAST_INPUT}
    result = json.loads(data["resultJson"])
    assert len(result["resultUrls"]) == 1 and result["resultUrls"][0].endswith(".mp4")

    made = wait_for(
        lambda: Delivery.objects.filter(generation=generation, status=Delivery.DELIVERED).first(),
        timeout=10,
    )
    assert made.kind == Delivery.CALLBACK and made.attempt_count == 1
    assert made.attempts.get().status == 200
    # Delivered ends the work; a duplicate run of the task by another worker
    # could still come at any time, and nothing marks that it will not: a
    # second POST gets a bounded time to show.
    never(lambda: len(receiver.requests_to("/done")) > 1, seconds=1.5, message="a second POST")


def test_a_failed_generation_calls_back_with_code_501(worker, alice, receiver):
    receiver.route("/done", Reply(status=204))
    generation = services.submit(
        user=alice,
        model="kling/v2-1",
        input={"prompt": "a forbiddenword at dawn"},
        callback_url=receiver.url + "/done",
    )
    (request,) = callbacks_to(receiver, "/done")
    body = request.json()
    assert body["code"] == 501
    assert body["data"]["state"] == "fail"
    assert body["data"]["failCode"] == "CONTENT_VIOLATION"
    assert "forbiddenword" in body["msg"]
    assert json.loads(body["data"]["resultJson"]) == {"resultUrls": []}
    assert body["data"]["taskId"] == generation.task_id


def test_a_receiver_down_past_the_quick_retries_gets_a_background_retry(worker, alice, receiver):
    receiver.route("/late", [Reply(status=503)] * 4 + [Reply(status=200)])
    generation = services.submit(
        user=alice,
        model="kling/v2-1",
        input={"prompt": "a forbiddenword again"},
        callback_url=receiver.url + "/late",
    )
    requests = callbacks_to(receiver, "/late", count=5, timeout=60)
    made = wait_for(
        lambda: Delivery.objects.filter(generation=generation, status=Delivery.DELIVERED).first(),
        timeout=10,
    )
    offsets = [request.at - requests[0].at for request in requests]
    assert [round(o) for o in offsets[:4]] == [0, 1, 3, 7], offsets
    # The fifth came from the sweeper, one background interval later.
    assert 7.5 <= offsets[4] <= 7 + 1 + 2 + TOLERANCE, offsets
    assert [a.status for a in made.attempts.all()] == [503, 503, 503, 503, 200]
    assert len({r.header("webhook-id") for r in requests}) == 1
    # Delivered ends the retries; a sixth request from a duplicate task or a
    # sweeper pass could still come at any time, and nothing marks that it
    # will not: it gets a bounded time to show.
    never(lambda: len(receiver.requests_to("/late")) > 5, seconds=1.5, message="a sixth request")


def test_a_delivery_fails_when_the_retry_window_is_over(worker, alice, receiver):
    receiver.route("/gone", Reply(status=500))
    generation = services.submit(
        user=alice,
        model="kling/v2-1",
        input={"prompt": "one more forbiddenword"},
        callback_url=receiver.url + "/gone",
    )
    made = wait_for(
        lambda: Delivery.objects.filter(generation=generation, status=Delivery.FAILED).first(),
        timeout=CALLBACK_TEST_WINDOW_SECONDS + 30,
    )
    attempts = list(made.attempts.all())
    assert len(attempts) >= 6  # four quick, then background ones
    assert all(a.status == 500 for a in attempts)
    window = (attempts[-1].at - attempts[0].at).total_seconds()
    assert CALLBACK_TEST_WINDOW_SECONDS - 2 <= window <= CALLBACK_TEST_WINDOW_SECONDS + 2
    assert made.next_attempt_at is None
    count = len(receiver.requests_to("/gone"))
    # Nothing after giving up. The sweeper passes every second and nothing
    # marks a dispatch it did not make: another attempt gets a bounded time
    # to show.
    never(
        lambda: len(receiver.requests_to("/gone")) > count,
        seconds=2,
        message="an attempt after giving up",
    )
