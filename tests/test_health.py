"""GET /healthz and GET /readyz: what a load balancer's probe sees, on the real parts."""

import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from playground import services, sweeper
from playground.models import Generation
from playground.ops.models import Heartbeat

BODY = {"model": "kling/v2-1", "input": {"prompt": "A lighthouse"}}


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def swept(db):
    """One real sweeper pass: its heartbeat is fresh."""
    sweeper.sweep()


def test_healthz_answers_200_without_touching_the_database(client):
    # No `db` fixture: any query would fail the test.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"code": 200, "msg": "alive", "data": {}}
    assert "no-store" in response["Cache-Control"]


def test_readyz_answers_200_when_every_part_works(client, swept):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["msg"] == "ready"
    assert {name for name, check in body["data"].items() if check["ok"]} == set(body["data"])
    assert {"database", "queue", "sweeper"} <= set(body["data"])


def test_readyz_needs_no_key_and_no_login(client, swept, alice):
    # alice exists, nobody is logged in, no Authorization header is sent.
    assert client.get("/readyz").status_code == 200


def test_readyz_names_a_sweeper_never_seen(client, db):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["code"] == 503
    assert "sweeper: never seen" in response.json()["msg"]


def test_readyz_names_a_stale_sweeper(client, swept, settings):
    settings.READY_SWEEPER_SECONDS = 60
    Heartbeat.objects.update(seen_at=timezone.now() - timedelta(seconds=90))
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["msg"].startswith("not ready: sweeper: last pass 90 s ago (limit 60 s)")
    assert body["data"]["sweeper"]["ok"] is False
    assert body["data"]["database"]["ok"] is True


def test_readyz_names_a_queue_whose_oldest_generation_waited_too_long(
    client, swept, alice, settings
):
    settings.READY_QUEUE_SECONDS = 300
    generation = services.submit(user=alice, **BODY)
    assert client.get("/readyz").status_code == 200  # just queued

    Generation.objects.filter(pk=generation.pk).update(
        created_at=timezone.now() - timedelta(seconds=400)
    )
    response = client.get("/readyz")
    assert response.status_code == 503
    assert (
        "queue: the oldest queued generation has waited 400 s (limit 300 s)"
        in response.json()["msg"]
    )
    assert response.json()["data"]["sweeper"]["ok"] is True

    settings.READY_QUEUE_SECONDS = 0  # the queue's age not checked
    assert client.get("/readyz").status_code == 200


def test_readyz_names_an_unreachable_redis(client, swept, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["msg"] == "not ready: redis: unreachable (ConnectionError)"
    assert body["data"]["database"]["ok"] is True


def test_readyz_checks_redis_only_when_configured(client, swept, settings):
    settings.REDIS_URL = ""
    assert "redis" not in client.get("/readyz").json()["data"]


def test_probes_are_not_redirected_to_https(client, swept, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/generations/").status_code == 301  # everything else is
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_probes_refuse_other_methods(client, db):
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405


def test_request_id_is_echoed_or_made(client):
    echoed = client.get("/healthz", headers={"X-Request-ID": "lb-1f2e3d"})
    assert echoed["X-Request-ID"] == "lb-1f2e3d"
    made = client.get("/healthz")
    assert len(made["X-Request-ID"]) == 32
    assert made["X-Request-ID"] != client.get("/healthz")["X-Request-ID"]


def test_request_id_that_could_break_a_log_line_is_replaced(client):
    for sent in ("two words", "x" * 200, "a\tb"):
        answered = client.get("/healthz", headers={"X-Request-ID": sent})["X-Request-ID"]
        assert answered != sent
        assert len(answered) == 32
