"""Account webhook endpoints: the views (owner only), events, test events, redelivery."""

import json
import time

import pytest
from django.urls import include, path, reverse

from accounts.models import Profile
from config.urls import urlpatterns as project_urlpatterns
from playground.models import Generation
from playground.webhooks import delivery, events
from playground.webhooks.models import Delivery, WebhookEndpoint
from tests.httpservers import LoopbackServer, Reply
from tests.test_webhook_signing import finished_generation, verify_kie, verify_standard_webhooks

# The project's routes plus the webhooks panel, whether or not the project
# routes it yet.
urlpatterns = [path("", include("playground.webhooks.urls")), *project_urlpatterns]
pytestmark = pytest.mark.urls(__name__)

HTMX = {"HTTP_HX_REQUEST": "true"}
BOTH = ["video.completed", "video.failed"]


@pytest.fixture
def receiver(settings):
    settings.ALLOW_PRIVATE_URLS = True
    with LoopbackServer() as server:
        server.route("/hook", Reply(status=200))
        yield server


def endpoint_for(user, url: str, events=BOTH, enabled=True) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(user=user, url=url, events=events, enabled=enabled)


def logged_in(client, user):
    client.force_login(user)
    return client


def deliver_all():
    """Send every pending delivery here, as the worker would."""
    for made in Delivery.objects.filter(status=Delivery.PENDING):
        delivery.deliver(made.pk, made.attempt_count)


def test_it_needs_a_login(client):
    answer = client.get(reverse("webhooks"), **HTMX)
    assert answer.status_code == 302 and "/login" in answer["Location"]
    answer = client.post(reverse("webhook-endpoint-create"), {"url": "https://example.com"})
    assert answer.status_code == 302 and "/login" in answer["Location"]


def test_it_creates_an_endpoint(client, alice, receiver):
    answer = logged_in(client, alice).post(
        reverse("webhook-endpoint-create"),
        {"url": receiver.url + "/hook", "events": ["video.failed"]},
        **HTMX,
    )
    assert answer.status_code == 200
    endpoint = WebhookEndpoint.objects.get(user=alice)
    assert (endpoint.url, endpoint.events, endpoint.enabled) == (
        receiver.url + "/hook",
        ["video.failed"],
        True,
    )
    assert 'id="webhook-endpoints"' in answer.text
    assert receiver.url + "/hook" in answer.text


def test_it_refuses_a_private_url_and_an_empty_choice(client, alice, settings):
    settings.ALLOW_PRIVATE_URLS = False
    answer = logged_in(client, alice).post(
        reverse("webhook-endpoint-create"), {"url": "http://127.0.0.1:9/hook"}, **HTMX
    )
    assert answer.status_code == 200
    assert "loopback address" in answer.text
    assert "Pick at least one event." in answer.text
    assert not WebhookEndpoint.objects.exists()


def test_without_javascript_a_post_goes_back_to_the_account_page(client, alice, receiver):
    answer = logged_in(client, alice).post(
        reverse("webhook-endpoint-create"), {"url": receiver.url + "/hook", "events": BOTH}
    )
    assert answer.status_code == 302
    assert answer["Location"] == reverse("account") + "#webhooks"
    assert WebhookEndpoint.objects.filter(user=alice).count() == 1


def test_the_panel_shows_only_the_users_own_endpoints_and_deliveries(client, alice, bob, carol):
    endpoint_for(alice, "https://alice.example.com/hook")
    endpoint_for(carol, "https://carol.example.com/hook")
    generation = finished_generation(alice, callback_url="https://alice.example.com/cb?t=1")
    events.generation_finished(generation.pk)

    alices = logged_in(client, alice).get(reverse("webhooks"), **HTMX).text
    assert "alice.example.com/hook" in alices and "carol.example.com" not in alices
    assert generation.task_id in alices
    assert "alice.example.com/cb" in alices and "t=1" not in alices  # no query strings shown

    for other in (carol, bob):  # the teammate does not see them either: they are alice's
        page = logged_in(client, other).get(reverse("webhooks"), **HTMX).text
        assert "alice.example.com" not in page and generation.task_id not in page
        listing = client.get(reverse("webhook-deliveries"), **HTMX).text
        assert generation.task_id not in listing


def test_another_users_endpoint_is_a_404(client, alice, carol):
    endpoint = endpoint_for(alice, "https://alice.example.com/hook")
    logged_in(client, carol)
    for name in ("webhook-endpoint-delete", "webhook-endpoint-toggle", "webhook-endpoint-test"):
        assert client.post(reverse(name, args=[endpoint.pk]), **HTMX).status_code == 404
    endpoint.refresh_from_db()
    assert endpoint.enabled
    assert not Delivery.objects.exists()


def test_the_owner_disables_and_deletes_an_endpoint(client, alice):
    endpoint = endpoint_for(alice, "https://alice.example.com/hook")
    logged_in(client, alice)
    answer = client.post(reverse("webhook-endpoint-toggle", args=[endpoint.pk]), **HTMX)
    assert answer.status_code == 200 and "Enable" in answer.text
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    answer = client.post(reverse("webhook-endpoint-delete", args=[endpoint.pk]), **HTMX)
    assert answer.status_code == 200
    assert not WebhookEndpoint.objects.exists()


def test_a_finished_generation_sends_events_to_subscribed_endpoints(alice, carol, receiver):
    receiver.route("/other", Reply(status=200))
    wanted = endpoint_for(alice, receiver.url + "/hook", events=["video.completed"])
    endpoint_for(alice, receiver.url + "/other", events=["video.failed"])
    endpoint_for(alice, receiver.url + "/other", enabled=False)
    endpoint_for(carol, receiver.url + "/other")
    generation = finished_generation(alice)

    (made,) = events.generation_finished(generation.pk)
    assert (made.kind, made.event_type, made.endpoint) == ("event", "video.completed", wanted)
    deliver_all()

    (request,) = receiver.requests
    assert request.path == "/hook"
    event = json.loads(request.body)
    assert set(event) == {"id", "object", "type", "created_at", "data"}
    assert event["id"].startswith("evt_") and event["object"] == "event"
    assert event["type"] == "video.completed"
    assert event["data"] == {"id": generation.task_id}
    assert abs(event["created_at"] - time.time()) < 10
    secret = Profile.objects.get(user=alice).signing_secret()
    assert verify_standard_webhooks(secret, request.headers, request.body)
    assert verify_kie(secret, request.headers, generation.task_id)


def test_a_failed_generation_sends_video_failed(alice, receiver):
    endpoint_for(alice, receiver.url + "/hook")
    generation = finished_generation(alice, state=Generation.FAIL)
    events.generation_finished(generation.pk)
    deliver_all()
    (request,) = receiver.requests
    assert request.json()["type"] == "video.failed"


def test_a_test_event_is_delivered_and_verifies_with_openai(client, alice, receiver):
    openai = pytest.importorskip("openai")
    endpoint = endpoint_for(alice, receiver.url + "/hook")
    answer = logged_in(client, alice).post(
        reverse("webhook-endpoint-test", args=[endpoint.pk]), **HTMX
    )
    assert answer.status_code == 200
    assert 'id="webhook-deliveries"' in answer.text and "webhook.test" in answer.text
    assert "every 3s" in answer.text  # pending: the list refreshes itself
    deliver_all()

    (request,) = receiver.requests
    secret = Profile.objects.get(user=alice).signing_secret()
    event = openai.OpenAI(api_key="unused").webhooks.unwrap(
        request.body, request.headers, secret=secret
    )
    assert event.type == "webhook.test"
    assert event.data.id == "test"
    assert verify_kie(secret, request.headers, "test")

    listing = client.get(reverse("webhook-deliveries"), **HTMX).text
    assert "Delivered" in listing and "HTTP 200" in listing and "every 3s" not in listing


def test_redeliver_sends_the_same_message_again(client, alice, carol, receiver):
    endpoint = endpoint_for(alice, receiver.url + "/hook")
    made = events.send_test_event(endpoint)
    deliver_all()

    assert (
        logged_in(client, carol)
        .post(reverse("webhook-redeliver", args=[made.pk]), **HTMX)
        .status_code
        == 404
    )
    answer = logged_in(client, alice).post(reverse("webhook-redeliver", args=[made.pk]), **HTMX)
    assert answer.status_code == 200 and "Redelivery queued." in answer.text
    deliver_all()

    first, second = receiver.requests
    assert first.body == second.body
    assert first.header("webhook-id") == second.header("webhook-id") == made.message_id
    made.refresh_from_db()
    assert (made.status, made.attempt_count) == (Delivery.DELIVERED, 2)


def test_a_deleted_endpoint_gets_no_more_attempts(alice, receiver):
    endpoint = endpoint_for(alice, receiver.url + "/hook")
    made = events.send_test_event(endpoint)
    endpoint.delete()
    deliver_all()
    assert receiver.requests == []
    made.refresh_from_db()
    assert made.status == Delivery.FAILED
    assert made.attempts.get().error == "The webhook endpoint was deleted."


def test_the_secret_is_revealed_and_rotated_by_post_only(client, alice):
    logged_in(client, alice)
    assert client.get(reverse("webhook-secret"), **HTMX).status_code == 405
    revealed = client.post(reverse("webhook-secret"), **HTMX)
    secret = Profile.objects.get(user=alice).signing_secret()
    assert secret in revealed.text
    assert "no-store" in revealed["Cache-Control"]

    rotated = client.post(reverse("webhook-secret-rotate"), **HTMX)
    new = Profile.objects.get(user=alice).signing_secret()
    assert new != secret and new in rotated.text and secret not in rotated.text
    assert "no-store" in rotated["Cache-Control"]

    page = client.post(reverse("webhook-secret"))  # without JavaScript: a page of its own
    assert page.status_code == 200 and new in page.text and "<html" in page.text


def test_the_secret_is_not_on_the_panel_until_revealed(client, alice):
    secret = Profile.objects.get(user=alice).signing_secret()
    panel = logged_in(client, alice).get(reverse("webhooks"), **HTMX).text
    assert secret not in panel and "Reveal secret" in panel
