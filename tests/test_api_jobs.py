"""The jobs contract: createTask, recordInfo, cancel, credits, errors, limits."""

import json
import threading
from decimal import Decimal

import pytest
from django.db import connections

from accounts import apikeys, ledger
from playground.models import Generation

PROMPT = "A red kite over green hills, wind in the grass"


@pytest.fixture
def api(client, alice_key):
    """The Django test client speaking JSON with alice's key."""

    class Api:
        def post(self, path, body, **headers):
            data = body if isinstance(body, (str, bytes)) else json.dumps(body)
            return client.post(
                path,
                data,
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {alice_key}",
                **headers,
            )

        def get(self, path, **params):
            return client.get(path, params, HTTP_AUTHORIZATION=f"Bearer {alice_key}")

    return Api()


def create(api, model="kling/v2-1", **input):
    return api.post(
        "/api/v1/jobs/createTask", {"model": model, "input": {"prompt": PROMPT, **input}}
    )


def test_it_creates_a_task_and_reports_it(api, alice):
    response = create(api, resolution="480p")
    assert response.status_code == 200
    body = response.json()
    assert (body["code"], body["msg"]) == (200, "success")
    task_id = body["data"]["taskId"]

    record = api.get("/api/v1/jobs/recordInfo", taskId=task_id).json()
    assert record["code"] == 200
    data = record["data"]
    assert data["taskId"] == task_id
    assert data["model"] == "kling/v2-1"
    assert data["state"] in {"waiting", "queuing"}
    assert json.loads(data["param"]) == {
        "model": "kling/v2-1",
        "input": {"prompt": PROMPT, "resolution": "480p"},
    }
    assert data["resultJson"] is None
    assert data["creditsCharged"] == 0
    assert isinstance(data["createTime"], int) and isinstance(data["updateTime"], int)
    assert data["completeTime"] is None and data["costTime"] is None


def test_recordinfo_shows_a_finished_task_with_absolute_result_urls(api, alice, settings):
    task_id = create(api).json()["data"]["taskId"]
    Generation.objects.filter(task_id=task_id).update(
        state=Generation.SUCCESS,
        video="generations/abc/x.mp4",
        poster="generations/abc/x.jpg",
        width=1280,
        height=720,
        duration=5.0,
        charged_credits=Decimal("55.00"),
    )
    settings.PUBLIC_BASE_URL = "https://reelgate.example.com"
    data = api.get("/api/v1/jobs/recordInfo", taskId=task_id).json()["data"]
    result = json.loads(data["resultJson"])
    assert result["resultUrls"] == ["https://reelgate.example.com/media/generations/abc/x.mp4"]
    assert result["thumbnailUrl"] == "https://reelgate.example.com/media/generations/abc/x.jpg"
    assert (result["videoDuration"], result["videoSize"]) == (5.0, "1280x720")
    assert data["creditsCharged"] == 55.0


def test_it_hides_other_teams_tasks_behind_404(api, client, alice, carol, bob):
    task_id = create(api).json()["data"]["taskId"]
    _, carol_key = apikeys.issue(carol)
    response = client.get(
        "/api/v1/jobs/recordInfo", {"taskId": task_id}, HTTP_AUTHORIZATION=f"Bearer {carol_key}"
    )
    assert response.status_code == 404
    assert response.json()["code"] == 404
    _, bob_key = apikeys.issue(bob)  # a teammate sees it
    response = client.get(
        "/api/v1/jobs/recordInfo", {"taskId": task_id}, HTTP_AUTHORIZATION=f"Bearer {bob_key}"
    )
    assert response.status_code == 200
    assert api.get("/api/v1/jobs/recordInfo", taskId="gen_nope").status_code == 404


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing"),
        ({"HTTP_AUTHORIZATION": "Bearer rg_unknown"}, "unknown"),
        ({"HTTP_AUTHORIZATION": "Basic abc"}, "wrong scheme"),
    ],
)
def test_it_rejects_requests_without_a_valid_key(client, alice, headers, reason):
    response = client.get("/api/v1/chat/credit", **headers)
    assert response.status_code == 401, reason
    assert response.json()["code"] == 401
    assert "API key" in response.json()["msg"]


def test_it_rejects_a_revoked_key(client, alice):
    key, secret = apikeys.issue(alice)
    apikeys.revoke(key)
    response = client.get("/api/v1/chat/credit", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 401


def test_malformed_json_is_a_400_that_says_so(api, alice):
    response = api.post("/api/v1/jobs/createTask", '{"model": "kling/v2-1", "input": {')
    assert response.status_code == 400
    assert "Malformed JSON" in response.json()["msg"]
    response = api.post("/api/v1/jobs/createTask", "[1, 2]")
    assert response.status_code == 400
    assert "JSON object" in response.json()["msg"]
    assert not Generation.objects.exists()


def test_validation_errors_are_422_with_field_messages(api, alice):
    response = api.post(
        "/api/v1/jobs/createTask",
        {"model": "kling/v2-1", "input": {"prompt": "", "resolution": "4k", "promt": "x"}},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == 422
    errors = body["data"]["errors"]
    assert set(errors) == {"input.prompt", "input.resolution", "input.promt"}
    assert "480p" in " ".join(errors["input.resolution"])
    assert "prompt" in " ".join(errors["input.promt"])  # did you mean
    assert "input.prompt" in body["msg"]


def test_an_unknown_model_is_422_listing_close_ids(api, alice):
    response = create(api, model="kling/v2-2")
    assert response.status_code == 422
    assert "kling/v2-1" in response.json()["msg"]
    missing = api.post("/api/v1/jobs/createTask", {"input": {"prompt": PROMPT}})
    assert missing.status_code == 422
    assert missing.json()["data"]["errors"] == {"model": ["This field is required."]}


def test_too_few_credits_is_402_and_creates_nothing(api, alice):
    ledger.hold(alice.profile.team.wallet, "460", "elsewhere")
    response = create(api)
    assert response.status_code == 402
    assert response.json()["msg"] == "Insufficient credits: 55.00 needed, 40.00 available."
    assert not Generation.objects.exists()


def test_a_private_callback_url_is_refused_at_create_time(api, alice, settings):
    settings.ALLOW_PRIVATE_URLS = False
    response = api.post(
        "/api/v1/jobs/createTask",
        {
            "model": "kling/v2-1",
            "callBackUrl": "http://127.0.0.1:9/hook",
            "input": {"prompt": PROMPT},
        },
    )
    assert response.status_code == 422
    assert "callBackUrl" in response.json()["data"]["errors"]
    assert not Generation.objects.exists()
    settings.ALLOW_PRIVATE_URLS = True
    ok = api.post(
        "/api/v1/jobs/createTask",
        {
            "model": "kling/v2-1",
            "callBackUrl": "http://127.0.0.1:9/hook",
            "input": {"prompt": PROMPT},
        },
    )
    assert ok.status_code == 200
    assert Generation.objects.get().callback_url == "http://127.0.0.1:9/hook"


def test_the_credit_endpoints_count_a_hold_against_the_available_credits(api, alice):
    create(api)
    assert api.get("/api/v1/chat/credit").json()["data"] == 445.0
    assert api.get("/api/v1/account/credits").json()["data"] == {
        "balance": 500.0,
        "held": 55.0,
        "available": 445.0,
    }


def test_cancel_releases_the_hold(api, alice):
    task_id = create(api).json()["data"]["taskId"]
    response = api.post("/api/v1/jobs/cancel", {"taskId": task_id})
    assert response.status_code == 200
    assert response.json()["data"] == {"taskId": task_id, "state": "fail"}
    data = api.get("/api/v1/jobs/recordInfo", taskId=task_id).json()["data"]
    assert (data["state"], data["failCode"]) == ("fail", "CANCELLED")
    assert json.loads(data["resultJson"]) == {"resultUrls": []}
    assert api.get("/api/v1/account/credits").json()["data"]["available"] == 500.0
    again = api.post("/api/v1/jobs/cancel", {"taskId": task_id})
    assert again.status_code == 400


def test_the_request_rate_limit_answers_429_with_retry_after(api, alice, settings):
    settings.API_REQUESTS_PER_MINUTE = 3  # alice's key is new: its counter starts at 0
    codes = [api.get("/api/v1/chat/credit").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = api.get("/api/v1/chat/credit")
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert "3 requests per minute" in limited.json()["msg"]


def test_the_unfinished_task_limit_answers_429(api, alice, settings):
    settings.API_MAX_UNFINISHED_TASKS = 2
    assert create(api).status_code == 200
    assert create(api).status_code == 200
    limited = create(api)
    assert limited.status_code == 429
    assert limited["Retry-After"]
    assert Generation.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_never_pass_the_unfinished_task_limit(alice, alice_key, settings):
    """Counted under the lock the credit hold takes, not before it: the racy
    count-then-insert let 8 and 11 of 40 through a limit of 5."""
    from django.test import Client

    settings.API_MAX_UNFINISHED_TASKS = 4
    calls = 16
    answers = []
    start = threading.Barrier(calls)

    def call():
        try:
            start.wait()
            answers.append(
                Client().post(
                    "/api/v1/jobs/createTask",
                    json.dumps({"model": "kling/v2-1", "input": {"prompt": PROMPT}}),
                    content_type="application/json",
                    HTTP_AUTHORIZATION=f"Bearer {alice_key}",
                )
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=call) for _ in range(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * 4 + [429] * (calls - 4)
    for refused in (answer for answer in answers if answer.status_code == 429):
        assert refused["Retry-After"] == "5"
        assert refused.json() == {
            "code": 429,
            "msg": "Too many unfinished tasks: 4 of 4 allowed for this API key. "
            "Wait for some to finish.",
            "data": None,
        }
    assert Generation.objects.count() == 4
    account = alice.profile.team.wallet
    account.refresh_from_db()
    assert account.held == Decimal("220.00")  # four holds of 55, none left by the refused


def test_maintenance_mode_answers_455(api, alice, settings):
    settings.MAINTENANCE_MODE = True
    response = api.get("/api/v1/chat/credit")
    assert (response.status_code, response.json()["code"]) == (455, 455)


def test_a_model_without_an_enabled_provider_is_505(api, alice, local_renderer):
    local_renderer.enabled = False
    local_renderer.save()
    response = create(api)
    assert (response.status_code, response.json()["code"]) == (505, 505)
    assert not Generation.objects.exists()


def test_the_same_idempotency_key_replays_the_task(api, alice):
    first = api.post(
        "/api/v1/jobs/createTask",
        {"model": "kling/v2-1", "input": {"prompt": PROMPT}},
        HTTP_IDEMPOTENCY_KEY="order-1",
    ).json()["data"]["taskId"]
    again = api.post(
        "/api/v1/jobs/createTask",
        {"model": "kling/v2-1", "input": {"prompt": PROMPT}},
        HTTP_IDEMPOTENCY_KEY="order-1",
    ).json()["data"]["taskId"]
    assert again == first
    conflict = api.post(
        "/api/v1/jobs/createTask",
        {"model": "kling/v2-1", "input": {"prompt": "other"}},
        HTTP_IDEMPOTENCY_KEY="order-1",
    )
    assert conflict.status_code == 422
    assert "Idempotency-Key" in conflict.json()["msg"]
    assert Generation.objects.count() == 1
    assert api.get("/api/v1/account/credits").json()["data"]["held"] == 55.0


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_create_exactly_one_task(alice, alice_key):
    from django.test import Client

    results = []
    start = threading.Barrier(8)

    def call():
        try:
            start.wait()
            response = Client().post(
                "/api/v1/jobs/createTask",
                json.dumps({"model": "kling/v2-1", "input": {"prompt": PROMPT}}),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {alice_key}",
                HTTP_IDEMPOTENCY_KEY="race-1",
            )
            results.append((response.status_code, response.json()["data"]["taskId"]))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 8
    assert {status for status, _ in results} == {200}
    assert len({task for _, task in results}) == 1
    assert Generation.objects.count() == 1
    account = alice.profile.team.wallet
    account.refresh_from_db()
    assert account.held == Decimal("55.00")


def test_null_characters_are_refused_not_stored(api, alice):
    """PostgreSQL cannot store NUL; it must be a clear 4xx on every database."""
    body = {"model": "kling/v2-1", "input": {"prompt": PROMPT}, "note\u0000": "x"}
    response = api.post("/api/v1/jobs/createTask", body)
    assert response.status_code == 400
    assert "null character" in response.json()["msg"]
    assert api.get("/api/v1/jobs/recordInfo", taskId="gen_\u0000abc").status_code == 404
    assert not Generation.objects.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("NaN", "NaN is not allowed"),
        ("-Infinity", "-Infinity is not allowed"),
        ("1e999", "out of range"),
        ('"\\ud800"', "unpaired surrogate"),
        ("[" * 100 + "]" * 100, "nested more than 64 levels"),
        ("[" * 100_000 + "]" * 100_000, "nested more than 64 levels"),
    ],
    ids=["nan", "infinity", "overflow", "surrogate", "deep", "very-deep"],
)
def test_a_body_the_database_could_not_store_is_a_400(api, alice, extra, message):
    """The request is stored as sent: what JSON columns refuse is refused first."""
    body = '{"model": "kling/v2-1", "input": {"prompt": "' + PROMPT + '"}, "extra": ' + extra + "}"
    response = api.post("/api/v1/jobs/createTask", body)
    assert response.status_code == 400, response.content[:300]
    assert message in response.json()["msg"]
    assert not Generation.objects.exists()


def test_a_deep_but_storable_body_is_accepted(api, alice):
    nested = "[" * 60 + "1" + "]" * 60
    body = '{"model": "kling/v2-1", "input": {"prompt": "' + PROMPT + '"}, "extra": ' + nested + "}"
    response = api.post("/api/v1/jobs/createTask", body)
    assert response.status_code == 200, response.content[:300]
    task_id = response.json()["data"]["taskId"]
    param = api.get("/api/v1/jobs/recordInfo", taskId=task_id).json()["data"]["param"]
    assert json.loads(param)["extra"] == json.loads(nested)


def test_the_request_counter_expires_after_its_window(shared_redis, api, alice):
    import time

    from accounts import redis_client
    from accounts.models import ApiKey
    from playground.api import limits

    window = None
    while window != int(time.time() // 60):  # both requests in one minute's window
        window = int(time.time() // 60)
        for _ in range(2):
            assert api.get("/api/v1/chat/credit").status_code == 200
    prefix = ApiKey.objects.get(user=alice).prefix
    name = redis_client.key(f"api-rate:{prefix}:{window}")
    client = redis_client.get()
    assert int(client.get(name)) >= 2
    assert 0 < client.ttl(name) <= limits.WINDOW_TTL


START = "https://example.com/media/start.png"
END = "https://example.com/media/end.png"


@pytest.mark.parametrize(
    ("model", "input", "field", "message"),
    [
        (
            "kling-2-1",
            {"mode": "standard-image-to-video", "image_urls": [START, END]},
            "input.image_urls",
            "End frame (image 2) applies only when mode is pro-image-to-video (got 2 images).",
        ),
        (
            "kling-2-1",
            {"mode": "master-text-to-video", "image_urls": [START]},
            "input.image_urls",
            "Applies only when mode is standard-image-to-video or pro-image-to-video"
            " or master-image-to-video.",
        ),
        (
            "kling-video/kling-v2-6",
            {"mode": "std", "sound": True},
            "input.sound",
            "Applies only when mode is pro (got on).",
        ),
        (
            "kling-v2-6",
            {"mode": "pro", "voice": True},
            "input.voice",
            "Applies only when mode is pro and audio is on (got on).",
        ),
    ],
)
def test_a_field_given_where_it_does_not_apply_is_422(api, alice, model, input, field, message):
    response = create(api, model=model, **input)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == 422
    assert body["data"]["errors"] == {field: [message]}
    assert field in body["msg"]
    assert not Generation.objects.exists()


def test_a_field_that_does_not_apply_is_not_required_and_may_hold_its_default(api, alice):
    # Text-to-video takes no images, so the images it requires elsewhere are not missing...
    text = create(api, model="kling-2-1", mode="master-text-to-video")
    assert text.status_code == 200, text.json()
    # ...and a std clip may still say sound and voice are off, as their defaults do.
    std = create(api, model="kling-v2-6", mode="std", sound=False, voice=False)
    assert std.status_code == 200, std.json()
    missing = create(api, model="kling-2-1", mode="master-image-to-video")
    assert missing.status_code == 422
    assert missing.json()["data"]["errors"] == {
        "input.image_urls": [
            "Required when mode is standard-image-to-video or pro-image-to-video"
            " or master-image-to-video."
        ]
    }
