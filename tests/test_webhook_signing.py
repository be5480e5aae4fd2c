"""Signed deliveries, checked the way receivers check them.

The verifiers below are written from the two public specifications with
the standard library only, not with playground.webhooks.signing.
"""

import base64
import hashlib
import hmac
import json
import logging
import time

import pytest

from accounts.models import Profile
from playground.models import Generation
from playground.webhooks import delivery, events
from playground.webhooks.models import Delivery
from tests.httpservers import LoopbackServer, Reply


def hmac_key(secret: str) -> bytes:
    assert secret.startswith("whsec_")
    return base64.b64decode(secret.removeprefix("whsec_"))


def verify_standard_webhooks(secret: str, headers: dict, body: bytes, tolerance: int = 300):
    """Standard Webhooks: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">."""
    message_id = headers["webhook-id"]
    timestamp = headers["webhook-timestamp"]
    assert abs(time.time() - int(timestamp)) <= tolerance, "stale timestamp"
    signed = f"{message_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(hmac_key(secret), signed, hashlib.sha256).digest())
    offered = [part.split(",", 1)[1] for part in headers["webhook-signature"].split()]
    return any(hmac.compare_digest(expected.decode(), value) for value in offered)


def verify_kie(secret: str, headers: dict, task_id: str) -> bool:
    """Kie: base64 HMAC-SHA256 of taskId + "." + X-Webhook-Timestamp (seconds)."""
    timestamp = headers["x-webhook-timestamp"]
    signed = f"{task_id}.{timestamp}".encode()
    expected = base64.b64encode(hmac.new(hmac_key(secret), signed, hashlib.sha256).digest())
    return hmac.compare_digest(expected.decode(), headers["x-webhook-signature"])


def finished_generation(user, *, callback_url: str = "", state=Generation.SUCCESS) -> Generation:
    return Generation.objects.create(
        owner=user,
        team=user.profile.team,
        model_id="kling/v2-1",
        input={"prompt": "a lighthouse at dusk"},
        request={"model": "kling/v2-1", "input": {"prompt": "a lighthouse at dusk"}},
        state=state,
        fail_code="" if state == Generation.SUCCESS else "CONTENT_VIOLATION",
        fail_msg="" if state == Generation.SUCCESS else "blocked",
        callback_url=callback_url,
    )


@pytest.fixture
def receiver(settings):
    settings.ALLOW_PRIVATE_URLS = True
    with LoopbackServer() as server:
        server.route("/hook", Reply(status=200, body="ok"))
        yield server


def send_callback(user, receiver) -> Delivery:
    generation = finished_generation(user, callback_url=receiver.url + "/hook")
    (made,) = events.generation_finished(generation.pk)
    delivery.deliver(made.pk, 0)
    made.refresh_from_db()
    return made


def test_a_secret_is_made_once_in_the_standard_webhooks_format(alice):
    profile = Profile.objects.get(user=alice)
    assert profile.webhook_secret == ""
    secret = profile.signing_secret()
    assert secret.startswith("whsec_")
    assert 24 <= len(hmac_key(secret)) <= 32
    assert Profile.objects.get(user=alice).signing_secret() == secret
    assert Profile.objects.get(user=alice).rotate_signing_secret() != secret


def test_both_signatures_verify_over_the_exact_bytes_sent(alice, receiver):
    made = send_callback(alice, receiver)
    (request,) = receiver.requests_to("/hook")
    secret = Profile.objects.get(user=alice).signing_secret()
    assert request.body == made.body.encode()
    assert request.header("content-type") == "application/json"
    assert request.header("webhook-id") == made.message_id
    assert request.header("webhook-id").startswith("msg_")
    assert request.header("webhook-timestamp") == request.header("x-webhook-timestamp")
    assert verify_standard_webhooks(secret, request.headers, request.body)
    assert verify_kie(secret, request.headers, made.task_id)
    assert json.loads(request.body)["data"]["taskId"] == made.task_id


def test_a_changed_body_or_another_secret_does_not_verify(alice, bob, receiver):
    made = send_callback(alice, receiver)
    (request,) = receiver.requests_to("/hook")
    secret = Profile.objects.get(user=alice).signing_secret()
    assert not verify_standard_webhooks(secret, request.headers, request.body + b" ")
    assert not verify_kie(secret, request.headers, made.task_id + "x")
    bobs = Profile.objects.get(user=bob).signing_secret()
    assert not verify_standard_webhooks(bobs, request.headers, request.body)
    assert not verify_kie(bobs, request.headers, made.task_id)


def test_openai_unwrap_accepts_a_callback(alice, receiver):
    openai = pytest.importorskip("openai")
    send_callback(alice, receiver)
    (request,) = receiver.requests_to("/hook")
    secret = Profile.objects.get(user=alice).signing_secret()
    client = openai.OpenAI(api_key="unused")
    client.webhooks.verify_signature(request.body, request.headers, secret=secret)
    with pytest.raises(openai.InvalidWebhookSignatureError):
        client.webhooks.verify_signature(request.body + b"x", request.headers, secret=secret)


def test_a_rotated_secret_signs_the_next_attempt(alice, receiver):
    made = send_callback(alice, receiver)
    profile = Profile.objects.get(user=alice)
    old = profile.signing_secret()
    new = profile.rotate_signing_secret()
    assert delivery.redeliver(made.pk)
    delivery.deliver(made.pk, made.attempt_count)
    first, second = receiver.requests_to("/hook")
    assert verify_standard_webhooks(old, first.headers, first.body)
    assert verify_standard_webhooks(new, second.headers, second.body)
    assert not verify_standard_webhooks(old, second.headers, second.body)
    assert verify_kie(new, second.headers, made.task_id)
    assert first.header("webhook-id") == second.header("webhook-id")


def test_the_secret_is_never_logged(alice, receiver, caplog):
    caplog.set_level(logging.DEBUG)
    send_callback(alice, receiver)
    secret = Profile.objects.get(user=alice).signing_secret()
    assert caplog.records, "the delivery logs its attempts"
    assert secret not in caplog.text
    assert secret.removeprefix("whsec_") not in caplog.text
