"""The Replicate predictions contract, driven by the official `replicate` client
against the live server.

Predictions that must really render use the real worker and the catalog's
quickest inputs; the errors and the list start from rows written here.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
import replicate
from django.core.cache import cache
from django.utils import timezone
from replicate.exceptions import ModelError, ReplicateError
from replicate.helpers import FileOutput
from replicate.pagination import paginate

from accounts import apikeys, ledger
from accounts.models import LedgerEntry
from playground import catalog
from playground.contracts import replicate as replicate_predictions
from playground.models import Generation
from playground.webhooks.models import Delivery
from tests.httpservers import LoopbackServer, Reply
from tests.processes import wait_for

VEO = {"prompt": "A paper boat on a rainy street", "duration": 5}


def sdk(live_server, key: str) -> replicate.Client:
    client = replicate.Client(api_token=key, base_url=live_server.url)
    client.poll_interval = 0.2
    return client


@pytest.fixture
def client(live_server, transactional_db, alice_key):
    return sdk(live_server, alice_key)


def make_prediction(owner, *, state=Generation.SUCCESS, contract="replicate") -> Generation:
    """A google/veo-3-1 row as submit() leaves it, in `state`, without rendering it."""
    now = timezone.now()
    finished = state in Generation.FINISHED
    return Generation.objects.create(
        owner=owner,
        team_id=owner.profile.team_id,
        contract=contract,
        model_id="google/veo-3-1",
        model_name="google/veo-3-1",
        input=catalog.validate("google/veo-3-1", VEO),
        state=state,
        # Unfinished rows look owned by a live worker, so the sweeper leaves them be.
        lease_holder="" if finished else "elsewhere",
        lease_expires_at=None if finished else now + timedelta(hours=1),
        deadline_at=now + timedelta(hours=1),
        completed_at=now if finished else None,
    )


def is_mp4(data: bytes) -> bool:
    return data[4:8] == b"ftyp"


# -- end to end, rendered by the worker -----------------------------------------


def test_it_runs_a_model_and_returns_the_video(client, worker):
    output = client.run("google/veo-3-1", input=VEO)

    generation = Generation.objects.get(contract="replicate")
    assert generation.state == Generation.SUCCESS
    url = generation.base_url + generation.video.url
    # The client wraps https: URLs in a FileOutput; the test server speaks http.
    assert str(output) == url
    assert is_mp4(FileOutput(str(output), client).read())


def test_it_creates_a_prediction_by_alias_and_the_client_waits_for_it(client, worker, alice):
    prediction = client.models.predictions.create(
        model="kwaivgi/kling-v2.6", input={"prompt": "A lighthouse at dusk"}
    )
    assert prediction.status == "starting"
    assert prediction.model == "kwaivgi/kling-v2.6"
    assert prediction.version == catalog.get_spec("kling-v2-6").version
    assert prediction.input["mode"] == "std"  # normalized, defaults filled in
    assert prediction.output is None and prediction.completed_at is None
    assert prediction.created_at.endswith("Z")

    prediction.wait()

    assert prediction.status == "succeeded", prediction.error
    assert prediction.error is None
    assert prediction.output.startswith("http://") and prediction.output.endswith(".mp4")
    assert is_mp4(httpx.get(prediction.output).content)
    assert prediction.metrics["predict_time"] > 0
    assert prediction.started_at and prediction.completed_at.endswith("Z")
    assert prediction.urls["get"].endswith(f"/v1/predictions/{prediction.id}")
    assert prediction.urls["cancel"].endswith(f"/v1/predictions/{prediction.id}/cancel")
    assert "generating: attempt 1" in prediction.logs
    assert prediction.progress.percentage == 1.0  # the client parses the last log line
    generation = Generation.objects.get(task_id=prediction.id)
    assert generation.charged_credits > 0


def test_a_short_wait_answers_starting_and_cancel_releases_the_hold(client, worker, alice):
    prediction = client.models.predictions.create(
        model="google/veo-3-1", input={**VEO, "duration": 8}, wait=1
    )
    # Still running after 1 s: `starting`, which the client's run() polls on from.
    assert prediction.status == "starting"
    wait_for(
        lambda: client.predictions.get(prediction.id).status == "processing",
        timeout=10,
        message="the prediction to start processing",
    )

    prediction.cancel()

    assert prediction.status == "canceled"
    assert prediction.error is None
    assert prediction.metrics["predict_time"] >= 0
    assert client.predictions.get(prediction.id).status == "canceled"
    generation = Generation.objects.get(task_id=prediction.id)
    assert generation.charged_credits == 0
    kinds = LedgerEntry.objects.filter(reference=generation.hold_reference).values_list(
        "kind", flat=True
    )
    assert sorted(kinds) == ["hold", "release"]
    alice.profile.team.wallet.refresh_from_db()
    assert alice.profile.team.wallet.available() == Decimal("500.00")


def test_a_failed_prediction_raises_model_error_from_run(client, worker):
    with pytest.raises(ModelError) as raised:
        client.run("google/veo-3-1", input={**VEO, "prompt": "a forbiddenword"})
    assert raised.value.prediction.status == "failed"
    assert "blocked term" in raised.value.prediction.error


def test_webhooks_follow_the_events_filter_and_validate_with_the_secret(client, worker, settings):
    settings.ALLOW_PRIVATE_URLS = True
    with LoopbackServer() as receiver:
        receiver.route("/all", Reply(body="ok"))
        receiver.route("/done", Reply(body="ok"))
        every = client.models.predictions.create(
            model="google/veo-3-1", input=VEO, webhook=receiver.url + "/all"
        )
        done = client.models.predictions.create(
            model="google/veo-3-1",
            input=VEO,
            webhook=receiver.url + "/done",
            webhook_events_filter=["completed"],
        )
        both = receiver.wait_for_requests(2, path="/all", timeout=20)
        (completed,) = receiver.wait_for_requests(1, path="/done", timeout=20)
        wait_for(
            lambda: Delivery.objects.filter(status=Delivery.DELIVERED).count() == 3,
            timeout=10,
            message="the three deliveries to be recorded",
        )
        assert len(receiver.requests_to("/done")) == 1

    statuses = sorted(request.json()["status"] for request in both)
    assert statuses == ["processing", "succeeded"]
    assert {request.json()["id"] for request in both} == {every.id}
    finished = completed.json()
    assert (finished["id"], finished["status"]) == (done.id, "succeeded")
    assert finished["output"].endswith(".mp4")

    secret = client.webhooks.default.secret()
    assert secret.key.startswith("whsec_")
    for request in [*both, completed]:
        replicate.webhooks.validate(
            headers=request.headers, body=request.text, secret=secret, tolerance=300
        )
    forged = {**completed.headers, "webhook-id": "msg_forged"}
    with pytest.raises(replicate.webhook.InvalidSignatureError):
        replicate.webhooks.validate(headers=forged, body=completed.text, secret=secret)


# -- without rendering ----------------------------------------------------------


def test_it_lists_the_teams_predictions_by_cursor(client, alice, bob, carol, monkeypatch):
    monkeypatch.setattr(replicate_predictions, "PAGE_SIZE", 2)
    made = [make_prediction(alice) for _ in range(3)] + [make_prediction(bob)]
    make_prediction(alice, contract="openai")  # another contract's
    make_prediction(carol)  # another team's
    newest_first = [generation.task_id for generation in reversed(made)]

    first = client.predictions.list()
    assert [p.id for p in first] == newest_first[:2]
    assert first.previous is None and first.next is not None
    second = client.predictions.list(first.next)
    assert [p.id for p in second] == newest_first[2:]
    assert second.next is None
    back = client.predictions.list(second.previous)
    assert [p.id for p in back] == newest_first[:2]
    assert back.previous is None

    walked = [p.id for page in paginate(client.predictions.list) for p in page]
    assert walked == newest_first
    assert all(p.status == "succeeded" for p in first)


def test_it_answers_starting_processing_and_failed_states(client, alice):
    waiting = make_prediction(alice, state=Generation.QUEUING)
    running = make_prediction(alice, state=Generation.GENERATING)
    Generation.objects.filter(pk=running.pk).update(progress=40)
    failed = make_prediction(alice, state=Generation.FAIL)
    Generation.objects.filter(pk=failed.pk).update(fail_code="TIMEOUT", fail_msg="Too slow.")

    assert client.predictions.get(waiting.task_id).status == "starting"
    processing = client.predictions.get(running.task_id)
    assert processing.status == "processing"
    assert processing.progress.percentage == 0.4
    gone = client.predictions.get(failed.task_id)
    assert (gone.status, gone.error, gone.output) == ("failed", "Too slow.", None)


def test_it_shows_the_fields_the_client_does_not_parse(live_server, alice, alice_key):
    prediction = make_prediction(alice)
    answer = httpx.get(
        f"{live_server.url}/v1/predictions/{prediction.task_id}",
        headers={"Authorization": f"Bearer {alice_key}"},
    ).json()
    assert (answer["data_removed"], answer["source"]) == (False, "api")
    assert answer["urls"]["web"].endswith(f"/generations/{prediction.task_id}/")


def test_it_serves_the_model_with_its_cog_shaped_schema(client):
    spec = catalog.get_spec("google/veo-3-1")

    model = client.models.get("google/veo-3-1")

    assert (model.owner, model.name, model.description) == ("google", "veo-3-1", spec.summary)
    version = model.latest_version
    assert version.id == spec.version and len(version.id) == 64
    schemas = version.openapi_schema["components"]["schemas"]
    assert schemas["Input"]["required"] == ["prompt"]
    assert schemas["Input"]["properties"]["duration"]["enum"] == [5, 8]
    assert schemas["Input"]["properties"]["prompt"]["x-order"] == 0
    assert schemas["Output"] == {"type": "string", "format": "uri", "title": "Output"}
    assert client.models.get("kwaivgi/kling-v2.6").latest_version.id == (
        catalog.get_spec("kling-v2-6").version
    )
    assert model.versions.get(version.id).id == version.id
    with pytest.raises(ReplicateError) as raised:
        client.models.get("nobody/nothing")
    assert raised.value.status == 404


def test_it_creates_from_a_version_id(client):
    version = catalog.get_spec("google/veo-3-1").version

    prediction = client.predictions.create(version=version, input=VEO)

    assert (prediction.model, prediction.version) == ("google/veo-3-1", version)
    with pytest.raises(ReplicateError) as raised:
        client.predictions.create(version="0" * 64, input=VEO)
    assert raised.value.status == 422 and "version" in raised.value.detail


def test_it_refuses_bad_input_field_by_field(client):
    with pytest.raises(ReplicateError) as raised:
        client.models.predictions.create(model="google/veo-3-1", input={"duration": 6})
    error = raised.value
    assert (error.status, error.title) == (422, "Input validation failed")
    assert "- input.prompt:" in error.detail and "- input.duration:" in error.detail
    assert Generation.objects.count() == 0


def test_it_refuses_a_webhook_the_guard_refuses(client, settings):
    settings.ALLOW_PRIVATE_URLS = False
    with pytest.raises(ReplicateError) as raised:
        client.models.predictions.create(
            model="google/veo-3-1", input=VEO, webhook="http://127.0.0.1:9/hook"
        )
    assert raised.value.status == 422 and raised.value.detail.startswith("- webhook:")
    with pytest.raises(ReplicateError) as raised:
        client.models.predictions.create(
            model="google/veo-3-1", input=VEO, webhook_events_filter=["finished"]
        )
    assert raised.value.status == 422


def test_it_answers_404_for_another_teams_prediction(live_server, client, alice, carol):
    prediction = make_prediction(alice)
    _, carols_key = apikeys.issue(carol, "carol's key")
    outsider = sdk(live_server, carols_key)

    for call in (outsider.predictions.get, outsider.predictions.cancel):
        with pytest.raises(ReplicateError) as raised:
            call(prediction.task_id)
        assert (raised.value.status, raised.value.title) == (404, "Not found")
        assert prediction.task_id in raised.value.detail
    assert client.predictions.get(prediction.task_id).id == prediction.task_id


def test_it_answers_401_for_a_bad_key(live_server, transactional_db):
    with pytest.raises(ReplicateError) as raised:
        sdk(live_server, "rg_not_a_key").predictions.get("gen_x")
    assert raised.value.status == 401
    assert "API key" in raised.value.detail


def test_it_answers_402_without_credits_and_429_over_the_limit(live_server, client, dan, settings):
    _, dans_key = apikeys.issue(dan, "dan's key")  # dan's team's wallet holds nothing
    with pytest.raises(ReplicateError) as raised:
        sdk(live_server, dans_key).models.predictions.create(model="google/veo-3-1", input=VEO)
    assert raised.value.status == 402 and "Insufficient credits" in raised.value.detail

    settings.API_MAX_UNFINISHED_TASKS = 0
    with pytest.raises(ReplicateError) as raised:
        client.models.predictions.create(model="google/veo-3-1", input=VEO)
    assert raised.value.status == 429


def test_cancelling_a_finished_prediction_changes_nothing(client, alice):
    prediction = make_prediction(alice)
    assert client.predictions.cancel(prediction.task_id).status == "succeeded"


def test_prefer_wait_reads_seconds_and_clamps_them(rf):
    def wait(header: str) -> int:
        return replicate_predictions.prefer_wait(rf.post("/", HTTP_PREFER=header))

    assert [wait(h) for h in ("", "wait", "wait=5", "respond-async, wait=90", "wait=0")] == [
        0,
        60,
        5,
        60,
        1,
    ]
    with pytest.raises(replicate_predictions.ApiError) as raised:
        wait("wait=soon")
    assert raised.value.status == 400


def test_waits_past_the_key_and_team_caps_answer_at_once(
    live_server, alice, alice_key, bob, settings
):
    """A waiting request holds a server thread: one tenant may hold only a few."""
    settings.API_WAITS_PER_KEY, settings.API_WAITS_PER_TEAM = 1, 1
    _, bobs_key = apikeys.issue(bob, "bob's key")  # bob is alice's teammate
    ledger.grant(bob.profile.team.wallet, Decimal("500.00"), note="test credits")
    url = live_server.url + "/v1/models/google/veo-3-1/predictions"

    def create(key: str, wait: int) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}", "Prefer": f"wait={wait}"}
        return httpx.post(url, json={"input": VEO}, headers=headers, timeout=30)

    with ThreadPoolExecutor(1) as pool:
        holding = pool.submit(create, alice_key, 3)  # nothing renders it: waits all 3 s
        slot = f"api-wait:key:{alice_key[: apikeys.PREFIX_LENGTH]}"
        wait_for(
            lambda: cache.get(slot) == 1, timeout=10, message="the first wait to hold its slot"
        )
        started = time.monotonic()
        same_key, same_team = create(alice_key, 3), create(bobs_key, 3)
        answered_in = time.monotonic() - started
        held = holding.result()

    assert held.headers["Preference-Applied"] == "wait=3"
    for refused in (same_key, same_team):
        assert refused.status_code == 201
        assert refused.json()["status"] == "starting"  # the client polls on from here
        assert "Preference-Applied" not in refused.headers
    assert answered_in < 2  # neither waited its 3 s
