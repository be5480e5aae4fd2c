"""Upstream callbacks signed by their upstream: checked before they wake a poll.

Replicate signs its webhooks as Standard Webhooks do, with the account's
secret; fal with ED25519 keys from its JWKS. The loopback servers sign as
those services do and serve the secret and the keys; the callback is posted
to our real view. A callback that does not check answers 401 and wakes
nothing; one that cannot be checked now answers 503 and wakes nothing.
"""

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.utils import timezone

from playground import services
from playground.models import Generation, Provider
from playground.providers.fal import FalProvider
from playground.providers.replicate import ReplicateProvider
from tests.contract.fakes import JOBS, FakeUpstream, adapter, keep_lease
from tests.contract.fal_server import FalServer
from tests.contract.replicate_server import ReplicateServer, new_secret
from tests.httpservers import Reply

pytestmark = pytest.mark.django_db

PROMPT = "A lighthouse in a storm, waves crashing"
VEO = {"prompt": PROMPT, "duration": 8}
LATER = timedelta(minutes=5)


@pytest.fixture(autouse=True)
def reachable(settings):
    settings.PUBLIC_BASE_URL = "https://reelgate.example.com"
    # Keys are held per process, by URL: each test starts with none held.
    ReplicateProvider.signing_secrets.clear()
    FalProvider.public_keys.clear()
    yield
    ReplicateProvider.signing_secrets.clear()
    FalProvider.public_keys.clear()


@pytest.fixture
def replicate():
    with ReplicateServer() as server:
        yield server


@pytest.fixture
def fal():
    with FalServer() as server:
        yield server


def in_flight(server, user, tmp_path) -> Generation:
    """A generation submitted to `server`, as the engine leaves it: its next poll minutes away."""
    row = server.provider_row()
    generation = services.submit(user=user, model="google/veo-3-1", input=VEO)
    outcome = adapter(row).start(generation, tmp_path, keep_lease)
    fields = {"state": Generation.GENERATING, "provider": row, "upstream_ref": outcome.reference}
    Generation.objects.filter(pk=generation.pk).update(
        next_poll_at=timezone.now() + LATER, **fields
    )
    generation.refresh_from_db()
    return generation


def woken(generation: Generation) -> bool:
    generation.refresh_from_db()
    return generation.next_poll_at <= timezone.now()


def refused(answer, status: int = 401) -> bool:
    return answer.status_code == status and isinstance(answer.json().get("error"), str)


# Replicate


def test_a_signed_replicate_webhook_wakes_the_poll(replicate, alice, client, tmp_path):
    generation = in_flight(replicate, alice, tmp_path)
    webhook = replicate.webhook(generation.upstream_ref)
    assert webhook.path.startswith(f"/api/upstream-callbacks/{generation.task_id}/")

    answer = webhook.post(client)

    assert answer.status_code == 200, answer.content
    assert woken(generation)
    (asked,) = replicate.secret_requests
    assert asked.header("Authorization") == f"Bearer {replicate.key}"


def test_it_refuses_a_replicate_webhook_signed_with_another_key(replicate, alice, client, tmp_path):
    generation = in_flight(replicate, alice, tmp_path)

    answer = replicate.webhook(generation.upstream_ref, secret=new_secret()).post(client)

    assert refused(answer)
    assert not woken(generation)


def test_it_refuses_a_forged_replicate_signature(replicate, alice, client, tmp_path):
    generation = in_flight(replicate, alice, tmp_path)
    webhook = replicate.webhook(generation.upstream_ref)
    forged = {**webhook.headers, "webhook-signature": "v1,bm90IGEgc2lnbmF0dXJl"}
    unsigned = {k: v for k, v in webhook.headers.items() if k != "webhook-signature"}

    answers = [webhook.changed(headers=forged).post(client)]
    answers.append(webhook.changed(headers=unsigned).post(client))

    assert all(refused(answer) for answer in answers)
    assert not woken(generation)


def test_it_refuses_a_replicate_webhook_whose_body_changed_after_signing(
    replicate, alice, client, tmp_path
):
    generation = in_flight(replicate, alice, tmp_path)
    webhook = replicate.webhook(generation.upstream_ref)

    answer = webhook.changed(body=webhook.body.replace(b"succeeded", b"failed")).post(client)

    assert refused(answer)
    assert not woken(generation)


def test_it_refuses_a_replayed_replicate_webhook_without_asking_for_the_secret(
    replicate, alice, client, tmp_path
):
    generation = in_flight(replicate, alice, tmp_path)
    old = int(timezone.now().timestamp()) - 6 * 60
    future = int(timezone.now().timestamp()) + 6 * 60

    answers = [
        replicate.webhook(generation.upstream_ref, at=at).post(client) for at in (old, future)
    ]

    assert all(refused(answer) for answer in answers)
    assert not woken(generation)
    assert replicate.secret_requests == []


def test_a_rotated_replicate_secret_is_fetched_again_once(replicate, alice, client, tmp_path):
    generation = in_flight(replicate, alice, tmp_path)
    assert replicate.webhook(generation.upstream_ref).post(client).status_code == 200
    replicate.rotate_secret()
    Generation.objects.filter(pk=generation.pk).update(next_poll_at=timezone.now() + LATER)

    rotated = replicate.webhook(generation.upstream_ref).post(client)
    assert rotated.status_code == 200, rotated.content
    assert woken(generation)
    assert len(replicate.secret_requests) == 2

    # A forged one right after does not make us ask again: at most once a minute.
    forged = replicate.webhook(generation.upstream_ref, secret=new_secret()).post(client)
    assert refused(forged)
    assert len(replicate.secret_requests) == 2


def test_a_replicate_webhook_answers_503_while_the_secret_cannot_be_fetched(
    replicate, alice, client, tmp_path
):
    generation = in_flight(replicate, alice, tmp_path)
    replicate.on_secret(Reply.json({"title": "Internal Server Error"}, status=500))
    webhook = replicate.webhook(generation.upstream_ref)

    down = webhook.post(client)

    assert refused(down, 503)
    assert down.headers["Retry-After"] == "60"
    assert not woken(generation)
    # Replicate retries a webhook answered with an error; by then the secret is back.
    assert webhook.post(client).status_code == 200
    assert woken(generation)


def test_a_webhook_signed_with_a_secret_out_of_reach_answers_503_not_401(
    replicate, alice, client, tmp_path
):
    """Rotated while the secret endpoint is down: the webhook may be genuine, so it comes back."""
    generation = in_flight(replicate, alice, tmp_path)
    assert replicate.webhook(generation.upstream_ref).post(client).status_code == 200
    Generation.objects.filter(pk=generation.pk).update(next_poll_at=timezone.now() + LATER)
    replicate.rotate_secret()
    replicate.on_secret(Reply.json({"title": "Service Unavailable"}, status=503))

    answer = replicate.webhook(generation.upstream_ref).post(client)

    assert refused(answer, 503)
    assert not woken(generation)


# fal


def test_a_signed_fal_webhook_wakes_the_poll(fal, alice, client, tmp_path):
    generation = in_flight(fal, alice, tmp_path)
    webhook = fal.webhook(generation.upstream_ref)
    assert webhook.path.startswith(f"/api/upstream-callbacks/{generation.task_id}/")

    answer = webhook.post(client)

    assert answer.status_code == 200, answer.content
    assert woken(generation)
    (asked,) = fal.jwks_requests
    assert asked.header("Authorization") is None  # public keys: our key stays home


def test_it_refuses_fal_webhooks_that_do_not_verify(fal, alice, client, tmp_path):
    generation = in_flight(fal, alice, tmp_path)
    webhook = fal.webhook(generation.upstream_ref)
    now = int(timezone.now().timestamp())
    other_key = fal.webhook(generation.upstream_ref, key=Ed25519PrivateKey.generate())
    forged = {**webhook.headers, "X-Fal-Webhook-Signature": "ab" * 64}
    another_user = {**webhook.headers, "X-Fal-Webhook-User-Id": "someone-else"}

    answers = {
        "another key": other_key.post(client),
        "a forged signature": webhook.changed(headers=forged).post(client),
        "the body changed": webhook.changed(body=webhook.body.replace(b"OK", b"ERROR")).post(
            client
        ),
        "a header changed": webhook.changed(headers=another_user).post(client),
        "too old": fal.webhook(generation.upstream_ref, at=now - 6 * 60).post(client),
    }

    assert {why: answer.status_code for why, answer in answers.items()} == dict.fromkeys(
        answers, 401
    )
    assert not woken(generation)


def test_a_rotated_fal_key_is_fetched_again_once(fal, alice, client, tmp_path):
    generation = in_flight(fal, alice, tmp_path)
    assert fal.webhook(generation.upstream_ref).post(client).status_code == 200
    fal.rotate_key()
    Generation.objects.filter(pk=generation.pk).update(next_poll_at=timezone.now() + LATER)

    assert fal.webhook(generation.upstream_ref).post(client).status_code == 200
    assert woken(generation)
    assert len(fal.jwks_requests) == 2

    stranger = Ed25519PrivateKey.generate()
    assert refused(fal.webhook(generation.upstream_ref, key=stranger).post(client))
    assert len(fal.jwks_requests) == 2


def test_a_fal_webhook_answers_503_while_the_keys_cannot_be_fetched(fal, alice, client, tmp_path):
    generation = in_flight(fal, alice, tmp_path)
    fal.on_jwks(Reply(status=502, body="Bad Gateway"))
    webhook = fal.webhook(generation.upstream_ref)

    assert refused(webhook.post(client), 503)
    assert not woken(generation)
    assert webhook.post(client).status_code == 200  # fal's retry, once the keys are back
    assert woken(generation)


def test_a_fal_provider_on_fal_itself_reads_fals_published_keys():
    row = Provider.objects.create(name="fal", kind=Provider.FAL)
    assert FalProvider(row).jwks_url == "https://rest.alpha.fal.ai/.well-known/jwks.json"
    row.base_url = "https://queue.fal.run"
    assert FalProvider(row).jwks_url == "https://rest.alpha.fal.ai/.well-known/jwks.json"


# Upstreams that do not sign, and URLs that are not ours


def test_an_unsigned_jobs_callback_still_wakes_the_poll(alice, client, tmp_path):
    generation = services.submit(user=alice, model=JOBS.model, input=JOBS.input)
    with FakeUpstream(JOBS) as fake:
        row = fake.provider_row()
        outcome = adapter(row).start(generation, tmp_path, keep_lease)
    Generation.objects.filter(pk=generation.pk).update(
        state=Generation.GENERATING,
        provider=row,
        upstream_ref=outcome.reference,
        next_poll_at=timezone.now() + LATER,
    )
    path = fake.submits[0].json()["callBackUrl"].removeprefix("https://reelgate.example.com")

    answer = client.post(path, data={"code": 200}, content_type="application/json")

    assert answer.status_code == 200
    assert woken(generation)


def test_a_forged_callback_is_told_the_same_whether_or_not_its_task_exists(
    replicate, alice, client, tmp_path
):
    generation = in_flight(replicate, alice, tmp_path)
    webhook = replicate.webhook(generation.upstream_ref, secret=new_secret())
    token = webhook.path.rstrip("/").rsplit("/", 1)[1]

    known = client.post(webhook.path.replace(token, "0" * len(token)), headers=webhook.headers)
    unknown = client.post(f"/api/upstream-callbacks/gen_none/{token}", headers=webhook.headers)

    assert (known.status_code, unknown.status_code) == (404, 404)
    assert known.json() == unknown.json()
    assert not woken(generation)
