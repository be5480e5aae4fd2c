"""The fal adapter against a loopback server speaking fal's queue API.

The rules every upstream shares (upstream.py) are tested in
test_jobs_upstream.py; here, fal's own shapes: Key auth, one app per model
variant, the status URL without the app's subpath, the result as a second
call, and fal's error details.
"""

from decimal import Decimal

import av
import httpx
import pytest
from django.core.files.storage import default_storage

from accounts.models import CreditAccount
from playground import services, tasks
from playground.models import Generation, Provider
from playground.providers.base import (
    CheckFailed,
    Failed,
    PollError,
    Running,
    SubmitRefused,
    Succeeded,
)
from playground.providers.fal import FalProvider
from playground.providers.upstream import HIDDEN_KEY
from tests.contract.fakes import API_KEY, adapter, finish, keep_lease
from tests.contract.fal_server import (
    EXPIRED_PATH,
    PRIVATE_PATH,
    FalServer,
    Status,
    error,
)
from tests.httpservers import Reply

pytestmark = pytest.mark.django_db

PROMPT = "A lighthouse in a storm, waves crashing"
START, END = "https://images.example/start.jpg", "https://images.example/end.jpg"
MOTION = "https://videos.example/dance.mp4"
PRO = {"mode": "pro-image-to-video", "prompt": PROMPT, "image_urls": [START, END]}
KLING = "/fal-ai/kling-video"
KEY = {"Authorization": f"Key {API_KEY}"}


@pytest.fixture
def fal():
    with FalServer() as server:
        yield server


def submitted(provider, generation, tmp_path) -> Generation:
    """Submit as the engine does and keep what it keeps: the reference and the state."""
    outcome = provider.start(generation, tmp_path, keep_lease)
    assert isinstance(outcome, Running), outcome
    generation.upstream_ref, generation.upstream_state = outcome.reference, outcome.state
    return generation


def new(user, model="kling-2-1", **input):
    return services.submit(user=user, model=model, input=input or PRO)


def test_the_registry_gives_the_fal_adapter():
    row = Provider.objects.create(name="fal", kind=Provider.FAL)
    provider = adapter(row)
    assert type(provider) is FalProvider and provider.asynchronous
    assert provider.base_url == "https://queue.fal.run"


# What goes to which app


SHAPES = [
    pytest.param(
        "kling-2-1",
        {"mode": "standard-image-to-video", "prompt": PROMPT, "image_urls": [START]},
        "/v2.1/standard/image-to-video",
        {"prompt": PROMPT, "cfg_scale": 0.5, "duration": "5", "image_url": START},
        id="kling-2-1-standard",
    ),
    pytest.param(
        "kling-2-1",
        {**PRO, "negative_prompt": "blur", "cfg_scale": 0.6, "duration": "10"},
        "/v2.1/pro/image-to-video",
        {"prompt": PROMPT, "negative_prompt": "blur", "cfg_scale": 0.6, "duration": "10"}
        | {"image_url": START, "tail_image_url": END},
        id="kling-2-1-pro-with-end-frame",
    ),
    pytest.param(
        "kling-2-1",
        {"mode": "master-text-to-video", "prompt": PROMPT},
        "/v2.1/master/text-to-video",
        {"prompt": PROMPT, "cfg_scale": 0.5, "duration": "5"},
        id="kling-2-1-master-text",
    ),
    pytest.param(
        "kling-2-1",
        {"mode": "master-image-to-video", "prompt": PROMPT, "image_urls": [START]},
        "/v2.1/master/image-to-video",
        {"prompt": PROMPT, "cfg_scale": 0.5, "duration": "5", "image_url": START},
        id="kling-2-1-master-image",
    ),
    pytest.param(
        "kling/v2-1-standard",
        {"prompt": PROMPT, "image_url": START, "negative_prompt": "blur"},
        "/v2.1/standard/image-to-video",
        {"prompt": PROMPT, "negative_prompt": "blur", "cfg_scale": 0.5, "duration": "5"}
        | {"image_url": START},
        id="kling-v2-1-standard",
    ),
    pytest.param(
        "kling-v2-6",
        {"prompt": PROMPT, "mode": "pro", "sound": True, "aspect_ratio": "9:16"},
        "/v2.6/pro/text-to-video",
        {"prompt": PROMPT, "duration": "5", "generate_audio": True, "aspect_ratio": "9:16"},
        id="kling-v2-6-text",
    ),
    pytest.param(
        "kling-v2-6",
        {"prompt": PROMPT, "mode": "pro", "image": START, "duration": "10"},
        "/v2.6/pro/image-to-video",
        {"prompt": PROMPT, "duration": "10", "generate_audio": False, "start_image_url": START},
        id="kling-v2-6-image",
    ),
    pytest.param(
        "kling-v3",
        {"prompt": PROMPT, "duration": 8, "sound": True},
        "/v3/standard/text-to-video",
        {"prompt": PROMPT, "duration": "8", "generate_audio": True, "aspect_ratio": "16:9"},
        id="kling-v3-std-text",
    ),
    pytest.param(
        "kling-v3",
        {"image": START, "mode": "pro"},
        "/v3/pro/image-to-video",
        {"duration": "5", "generate_audio": False, "start_image_url": START},
        id="kling-v3-pro-image-without-prompt",
    ),
    pytest.param(
        "google/veo-3-1",
        {"prompt": PROMPT, "duration": 8, "aspect_ratio": "9:16"},
        "fal-ai/veo3.1",
        {"prompt": PROMPT, "aspect_ratio": "9:16", "duration": "8s", "resolution": "720p"}
        | {"generate_audio": True},
        id="veo-3-1",
    ),
    pytest.param(
        "google/veo-3-1",
        {"prompt": PROMPT},  # the catalog's 5 s: made as the next longer length
        "fal-ai/veo3.1",
        {"prompt": PROMPT, "aspect_ratio": "16:9", "duration": "6s", "resolution": "720p"}
        | {"generate_audio": True},
        id="veo-3-1-5-seconds",
    ),
    pytest.param(
        "kling-motion-control",
        {"image": START, "motion_video": MOTION},
        "/v2.6/standard/motion-control",
        {"image_url": START, "video_url": MOTION, "character_orientation": "video"}
        | {"keep_original_sound": False},
        id="motion-control-2-6-720p",
    ),
    pytest.param(
        "kling-motion-control",
        {"prompt": PROMPT, "image": START, "motion_video": MOTION, "version": "3.0"}
        | {"resolution": "1080p", "duration": 12},
        "/v3/pro/motion-control",
        {"prompt": PROMPT, "image_url": START, "video_url": MOTION}
        | {"character_orientation": "video", "keep_original_sound": False},
        id="motion-control-3-0-1080p",
    ),
]


@pytest.mark.parametrize("model, input, app, body", SHAPES)
def test_it_submits_each_model_to_its_app_with_the_apps_fields(
    alice, tmp_path, fal, model, input, app, body
):
    outcome = adapter(fal.provider_row()).start(new(alice, model, **input), tmp_path, keep_lease)

    assert isinstance(outcome, Running), outcome
    (submit,) = fal.submits
    assert submit.path == (f"/{app}" if app.startswith("fal-ai") else KLING + app)
    assert submit.json() == body
    assert submit.header("Authorization") == f"Key {API_KEY}"


NOT_SERVED = [
    pytest.param("kling-v2-6", {"prompt": PROMPT, "mode": "std"}, "pro mode only", id="2-6-std"),
    pytest.param(
        "kling-v2-6",
        {"prompt": PROMPT, "mode": "pro", "sound": True, "voice": True},
        "voice ids",
        id="2-6-voice",
    ),
    pytest.param(
        "google/veo-3-1",
        {"prompt": PROMPT, "duration": 8, "aspect_ratio": "4:3"},
        "not 4:3",
        id="veo-4-3",
    ),
    pytest.param("kling/v2-1", {"prompt": PROMPT}, "does not offer kling/v2-1", id="kling-v2-1"),
]


@pytest.mark.parametrize("model, input, reason", NOT_SERVED)
def test_what_fal_does_not_offer_is_refused_without_sending(
    alice, tmp_path, fal, model, input, reason
):
    provider = adapter(fal.provider_row())
    with pytest.raises(SubmitRefused, match=reason) as refused:
        provider.start(new(alice, model, **input), tmp_path, keep_lease)
    assert "nothing was sent" in str(refused.value)
    assert not refused.value.provider_fault  # this input, not fal's health
    assert fal.server.requests == []


def test_a_rows_model_map_picks_another_app_but_not_a_model_without_a_mapping(alice, tmp_path, fal):
    app = "fal-ai/kling-video/v2.1/master/image-to-video"
    master = {"kling/v2-1-standard": app, "kling/v2-1": "fal-ai/kling-video/v2.1/master"}
    provider = adapter(fal.provider_row(model_map=master))
    standard = new(alice, "kling/v2-1-standard", prompt=PROMPT, image_url=START)
    submitted(provider, standard, tmp_path)
    with pytest.raises(SubmitRefused, match="no fal input mapping is known for kling/v2-1"):
        provider.start(new(alice, "kling/v2-1", prompt=PROMPT), tmp_path, keep_lease)
    assert [r.path for r in fal.submits] == [f"/{app}"]


# Polls: every status word, then the result


def test_it_polls_the_status_url_then_fetches_the_result(alice, tmp_path, fal):
    fal.script(Status("IN_QUEUE", queue_position=2), Status("IN_PROGRESS"), Status("COMPLETED"))
    provider = adapter(fal.provider_row())
    generation = submitted(provider, new(alice), tmp_path)
    outcomes = [provider.poll(generation) for _ in range(3)]

    ref = generation.upstream_ref
    root = f"{KLING}/requests/{ref}"  # without the app's /v2.1/pro/image-to-video
    assert generation.upstream_state == {
        "status_url": fal.url + root + "/status",
        "response_url": fal.url + root,
        "cancel_url": fal.url + root + "/cancel",
    }
    assert outcomes == [
        Running(ref),  # the engine estimates progress: fal gives a queue position
        Running(ref),
        Succeeded(video_url=fal.video_url, note=f"upstream task {ref}"),
    ]
    assert [r.target for r in fal.calls("status")] == [f"{root}/status?logs=1"] * 3
    (result,) = fal.calls()
    assert result.path == root
    assert {r.header("Authorization") for r in fal.server.requests} == {f"Key {API_KEY}"}


def test_an_unknown_status_word_is_logged_and_polled_again(alice, tmp_path, fal, caplog):
    fal.script(Status("AWAITING_GPU"), Status("COMPLETED"))
    provider = adapter(fal.provider_row())
    generation = submitted(provider, new(alice), tmp_path)

    first, second = provider.poll(generation), provider.poll(generation)
    assert first == Running(generation.upstream_ref)
    assert isinstance(second, Succeeded)
    assert "'AWAITING_GPU'" in caplog.text


def test_a_status_answer_without_a_status_is_a_poll_error(alice, tmp_path, fal):
    fal.script(Reply.json({"request_id": "x"}, status=202))
    provider = adapter(fal.provider_row())
    generation = submitted(provider, new(alice), tmp_path)
    with pytest.raises(PollError, match="no status"):
        provider.poll(generation)


FLAGGED = "The content was flagged by a content checker."
NO_URL = "The upstream reported task {ref} done but gave no usable result URL."
ENDINGS = [
    pytest.param(
        Status("COMPLETED", error="Unprocessable Entity", error_type="content_policy_violation"),
        Reply.json(
            {"detail": [error(["body", "prompt"], FLAGGED, "content_policy_violation")]}, 422
        ),
        Failed(
            "CONTENT_VIOLATION",
            f"prompt: {FLAGGED} (content_policy_violation)",
        ),
        id="content-policy",
    ),
    pytest.param(
        Status("COMPLETED", error="Unprocessable Entity"),
        Reply.json(
            {"detail": [error(["body", "image_url"], "Failed to download", "file_download_error")]},
            status=422,
        ),
        Failed("INVALID_IMAGE_URL", "image_url: Failed to download (file_download_error)"),
        id="image-download",
    ),
    pytest.param(
        Status("COMPLETED", error="Unprocessable Entity"),
        Reply.json(
            {"detail": [error(["body", "image_url"], "Image too small", "image_too_small")]},
            status=422,
        ),
        Failed("INVALID_IMAGE_URL", "image_url: Image too small (image_too_small)"),
        id="image-too-small",
    ),
    pytest.param(
        # A request error the status already reported: final, not asked again.
        Status("COMPLETED", error="Runner disconnected", error_type="runner_disconnected"),
        Reply.json({"detail": "Runner disconnected", "error_type": "runner_disconnected"}, 503),
        Failed("UPSTREAM_ERROR", "Runner disconnected [runner_disconnected]"),
        id="request-error",
    ),
    pytest.param(
        Status("COMPLETED"),
        Reply.json({"detail": [error(["body", "duration"], "Too long", "less_than")]}, 422),
        Failed("UPSTREAM_ERROR", "duration: Too long (less_than)"),
        id="model-error",
    ),
    pytest.param(
        # The status's word stands even when the result answers 200.
        Status("COMPLETED", error="Content flagged", error_type="content_policy_violation"),
        Reply.json({"images": []}),
        Failed("CONTENT_VIOLATION", "Content flagged"),
        id="status-error-only",
    ),
    pytest.param(
        Status("COMPLETED"),
        Reply.json({"images": []}),
        Failed("UPSTREAM_ERROR", NO_URL),
        id="no-video",
    ),
    pytest.param(
        Status("COMPLETED"),
        Reply.json({"video": {"url": "ftp://files.example/a.mp4"}}),
        Failed("UPSTREAM_ERROR", NO_URL),
        id="unusable-video-url",
    ),
]


@pytest.mark.parametrize("status, result, expected", ENDINGS)
def test_a_completed_request_that_failed_ends_with_its_reason(
    alice, tmp_path, fal, status, result, expected
):
    fal.script(status)
    fal.on_result(result)
    provider = adapter(fal.provider_row())
    generation = submitted(provider, new(alice), tmp_path)

    outcome = provider.poll(generation)
    message = expected.message.format(ref=generation.upstream_ref)
    assert outcome == Failed(expected.code, message)


def test_a_result_that_is_not_there_yet_is_asked_again(alice, tmp_path, fal):
    fal.on_result(Reply.json({"detail": "Service Unavailable"}, status=503), fal.video_result())
    provider = adapter(fal.provider_row())
    generation = submitted(provider, new(alice), tmp_path)

    with pytest.raises(PollError, match="code 503: Service Unavailable"):
        provider.poll(generation)
    assert isinstance(provider.poll(generation), Succeeded)


def test_a_rate_limited_poll_keeps_the_pace_asked(alice, tmp_path, fal):
    fal.script(Reply.json({"detail": "Too many requests"}, 429, headers={"Retry-After": "4"}))
    provider = adapter(fal.provider_row())
    generation = submitted(provider, new(alice), tmp_path)
    with pytest.raises(PollError) as error_:
        provider.poll(generation)
    assert error_.value.retry_after == 4.0


def test_a_request_fal_never_had_is_not_found(alice, fal):
    generation = new(alice)
    generation.upstream_ref = "5f0c6a3e-0000-4000-8000-000000000001"
    outcome = adapter(fal.provider_row()).poll(generation)
    assert outcome == Failed(
        "UPSTREAM_ERROR",
        f"The upstream has no task {generation.upstream_ref} (code 404: Request not found).",
    )
    (status,) = fal.server.requests
    assert status.path == f"{KLING}/requests/{generation.upstream_ref}/status"


def test_urls_handed_out_on_another_host_are_replaced_by_the_documented_paths(alice, tmp_path, fal):
    elsewhere = "https://elsewhere.example/fal-ai/kling-video/requests/r1"
    fal.on_submit(
        Reply.json(
            {"request_id": "r1", "status_url": elsewhere + "/status", "response_url": elsewhere}
            | {"cancel_url": "http://a:b:c/cancel"}  # not even a URL
        )
    )
    generation = submitted(adapter(fal.provider_row()), new(alice), tmp_path)
    assert generation.upstream_state == {
        "status_url": f"{KLING}/requests/r1/status",
        "response_url": f"{KLING}/requests/r1",
        "cancel_url": f"{KLING}/requests/r1/cancel",
    }


# Submits fal refuses, or whose answer is lost

REFUSALS = [
    pytest.param(
        Reply.json(
            {"detail": "User is locked. Reason: Exhausted balance. Top up your balance."},
            status=403,
        ),
        "code 403: User is locked. Reason: Exhausted balance",
        None,
        id="balance-exhausted",
    ),
    pytest.param(
        Reply.json({"detail": "Too many requests"}, status=429, headers={"Retry-After": "9"}),
        "code 429: Too many requests",
        9.0,
        id="rate-limited",
    ),
    pytest.param(
        Reply.json({"detail": "Invalid timeout header", "error_type": "bad_request"}, 400),
        "code 400: Invalid timeout header [bad_request]",
        None,
        id="request-error",
    ),
]


@pytest.mark.parametrize("reply, reason, retry_after", REFUSALS)
def test_a_submit_fal_refused_lets_the_next_provider_try(
    alice, tmp_path, fal, reply, reason, retry_after
):
    fal.on_submit(reply)
    with pytest.raises(SubmitRefused) as refused:
        adapter(fal.provider_row()).start(new(alice), tmp_path, keep_lease)
    assert reason in str(refused.value)
    assert refused.value.retry_after == retry_after


def test_bad_input_is_refused_with_the_apps_own_words(alice, tmp_path, fal):
    # Kling 2.6 image-to-video needs a prompt on fal; the catalog lets it go.
    generation = new(alice, "kling-v2-6", mode="pro", image=START)
    with pytest.raises(SubmitRefused, match=r"code 422: prompt: Field required \(missing\)"):
        adapter(fal.provider_row()).start(generation, tmp_path, keep_lease)
    assert fal.received == {}


def test_a_wrong_key_is_refused(alice, tmp_path, fal):
    provider = adapter(fal.provider_row(credentials={"api_key": "someone-elses:key"}))
    with pytest.raises(SubmitRefused, match="code 401: No user found for Key ID and Secret"):
        provider.start(new(alice), tmp_path, keep_lease)
    assert fal.received == {}


@pytest.mark.parametrize(
    "reply, reason",
    [
        pytest.param(Reply.json({"detail": "Internal"}, 500), "code 500: Internal", id="500"),
        pytest.param(Reply.json({"status": "IN_QUEUE"}), "without a usable request_id", id="no-id"),
    ],
)
def test_a_submit_whose_answer_says_no_id_is_ambiguous(alice, tmp_path, fal, reply, reason):
    fal.on_submit(reply)
    outcome = adapter(fal.provider_row()).start(new(alice), tmp_path, keep_lease)
    assert isinstance(outcome, Failed) and outcome.code == "UPSTREAM_AMBIGUOUS"
    assert reason in outcome.message


# The key


def test_a_result_on_the_queues_origin_is_fetched_with_the_key_and_elsewhere_without(
    alice, tmp_path, fal
):
    provider = adapter(fal.provider_row())
    on_cdn = provider.poll(submitted(provider, new(alice), tmp_path))
    fal.video_url = fal.url + PRIVATE_PATH
    on_queue = provider.poll(submitted(provider, new(alice), tmp_path))

    assert on_cdn.download_headers == {}
    assert on_queue.video_url == fal.url + PRIVATE_PATH
    assert on_queue.download_headers == KEY
    assert httpx.get(on_queue.video_url).status_code == 401
    assert httpx.get(on_queue.video_url, headers=KEY).content[4:8] == b"ftyp"


def test_the_key_never_appears_in_a_message(alice, tmp_path, fal):
    echoed = f"No user found for Key {API_KEY}"
    fal.on_submit(
        Reply.json({"detail": echoed}, status=401),
        Reply.json({"detail": [error(["body", "prompt"], echoed, "value_error")]}, status=422),
    )
    fal.script(
        Reply.json({"detail": echoed}, status=500),
        Status("COMPLETED", error=echoed, error_type="runner_server_error"),
    )
    fal.on_result(Reply.json({"detail": echoed, "error_type": "runner_server_error"}, 500))
    provider = adapter(fal.provider_row())
    generation = new(alice)
    messages = []
    for _ in range(2):
        with pytest.raises(SubmitRefused) as refused:
            provider.start(generation, tmp_path, keep_lease)
        messages.append(str(refused.value))
    submitted(provider, generation, tmp_path)
    with pytest.raises(PollError) as error_:
        provider.poll(generation)
    messages += [str(error_.value), provider.poll(generation).message]

    assert len(messages) == 4
    assert all(API_KEY not in message and HIDDEN_KEY in message for message in messages)


def test_cancel_puts_to_the_cancel_url(alice, tmp_path, fal):
    provider = adapter(fal.provider_row())
    generation = submitted(provider, new(alice), tmp_path)
    provider.cancel(generation)

    (cancel,) = fal.calls("cancel")
    assert (cancel.method, cancel.header("Authorization")) == ("PUT", f"Key {API_KEY}")
    assert fal.received[generation.upstream_ref].cancelled


def test_the_check_asks_for_a_request_nobody_made(fal):
    assert adapter(fal.provider_row()).check().startswith("credentials accepted")
    (check,) = fal.server.requests
    assert check.path == f"{KLING}/requests/00000000-0000-0000-0000-000000000000/status"
    assert check.header("Authorization") == f"Key {API_KEY}"

    wrong = adapter(fal.provider_row(name="wrong", credentials={"api_key": "nope"}))
    with pytest.raises(CheckFailed, match="code 401: No user found"):
        wrong.check()


# The engine


def test_an_expired_result_url_fails_the_generation_and_charges_nothing(alice, tmp_path, fal):
    fal.video_url = fal.cdn_url + EXPIRED_PATH
    row = fal.provider_row()
    generation = submitted(adapter(row), new(alice), tmp_path)
    Generation.objects.filter(pk=generation.pk).update(
        state=Generation.GENERATING,
        provider=row,
        upstream_ref=generation.upstream_ref,
        upstream_state=generation.upstream_state,
    )
    tasks.poll_generation(generation.pk, 0)

    generation.refresh_from_db()
    assert (generation.state, generation.fail_code) == (Generation.FAIL, "UPSTREAM_ERROR")
    assert "could not be stored" in generation.fail_msg
    assert CreditAccount.objects.get(team__members__user=alice).held == Decimal("0.00")


def test_it_makes_a_video_on_fal_stores_it_and_charges_the_quote(worker, alice):
    with FalServer() as fal:
        fal.video_url = fal.url + PRIVATE_PATH  # the worker must send the key for it
        fal.script(Status("IN_QUEUE"), Status("IN_PROGRESS"), Status("COMPLETED"))
        row = fal.provider_row(priority=10)
        generation = services.submit(user=alice, model="kling-2-1", input=PRO)
        finish(generation)

    assert generation.state == Generation.SUCCESS, generation.fail_msg
    assert generation.provider_id == row.pk
    assert generation.upstream_ref in fal.received
    assert generation.charged_credits == generation.quoted_credits == Decimal("50.00")
    account = CreditAccount.objects.get(team__members__user=alice)
    assert (account.balance, account.held) == (Decimal("450.00"), Decimal("0.00"))
    with default_storage.open(generation.video.name) as handle, av.open(handle) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (64, 64)
    (download,) = fal.server.requests_to(PRIVATE_PATH)
    assert download.header("Authorization") == f"Key {API_KEY}"
    assert len(fal.submits) == 1
