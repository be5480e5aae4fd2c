"""The Replicate adapter against a loopback server speaking Replicate's
predictions API, and against another Reelgate, which serves that contract
for its own catalog.

The rules every upstream shares (upstream.py) are tested in
test_jobs_upstream.py; here, Replicate's own shapes: the official model's
path, {"input": ...} with only the model's schema fields, the prediction's
status words, and problem-details errors.
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
from playground.providers.replicate import ReplicateProvider
from playground.providers.upstream import HIDDEN_KEY
from tests.contract.fakes import API_KEY, adapter, finish, keep_lease
from tests.contract.replicate_server import (
    EXPIRED_PATH,
    PRIVATE_PATH,
    ReplicateServer,
    Step,
    problem,
)
from tests.contract.test_chained_reelgate import finished
from tests.httpservers import Reply

pytestmark = pytest.mark.django_db

PROMPT = "A lighthouse in a storm, waves crashing"
START, END = "https://images.example/start.jpg", "https://images.example/end.jpg"
MOTION = "https://videos.example/dance.mp4"
VEO = {"prompt": PROMPT, "duration": 8}
BEARER = {"Authorization": f"Bearer {API_KEY}"}
NO_URL = "The upstream reported task {ref} done but gave no usable result URL."


@pytest.fixture
def replicate():
    with ReplicateServer() as server:
        yield server


def new(user, model="google/veo-3-1", **input):
    return services.submit(user=user, model=model, input=input or VEO)


def submitted(provider, generation, tmp_path) -> Generation:
    outcome = provider.start(generation, tmp_path, keep_lease)
    assert isinstance(outcome, Running), outcome
    generation.upstream_ref = outcome.reference
    return generation


def polled(replicate, user, tmp_path, *steps, polls: int = 1):
    replicate.script(*steps)
    provider = adapter(replicate.provider_row())
    generation = submitted(provider, new(user), tmp_path)
    return generation, [provider.poll(generation) for _ in range(polls)]


def test_the_registry_gives_the_replicate_adapter():
    provider = adapter(Provider.objects.create(name="replicate", kind=Provider.REPLICATE))
    assert type(provider) is ReplicateProvider and provider.asynchronous
    assert provider.base_url == "https://api.replicate.com"


# What goes to which model

SHAPES = [
    pytest.param(
        "kling-2-1",
        {"mode": "standard-image-to-video", "prompt": PROMPT, "image_urls": [START]},
        "kwaivgi/kling-v2.1",
        {"prompt": PROMPT, "duration": 5, "start_image": START, "mode": "standard"},
        id="kling-2-1-standard",
    ),
    pytest.param(
        "kling-2-1",
        {"mode": "pro-image-to-video", "prompt": PROMPT, "image_urls": [START, END]}
        | {"negative_prompt": "blur", "duration": "10"},
        "kwaivgi/kling-v2.1",
        {"prompt": PROMPT, "negative_prompt": "blur", "duration": 10, "start_image": START}
        | {"mode": "pro", "end_image": END},
        id="kling-2-1-pro-with-end-frame",
    ),
    pytest.param(
        "kling-2-1",
        {"mode": "master-text-to-video", "prompt": PROMPT},
        "kwaivgi/kling-v2.1-master",
        {"prompt": PROMPT, "duration": 5},
        id="kling-2-1-master-text",
    ),
    pytest.param(
        "kling-2-1",
        {"mode": "master-image-to-video", "prompt": PROMPT, "image_urls": [START]},
        "kwaivgi/kling-v2.1-master",
        {"prompt": PROMPT, "duration": 5, "start_image": START},
        id="kling-2-1-master-image",
    ),
    pytest.param(
        "kling/v2-1-standard",
        {"prompt": PROMPT, "image_url": START, "negative_prompt": "blur"},
        "kwaivgi/kling-v2.1",
        {"prompt": PROMPT, "negative_prompt": "blur", "duration": 5, "start_image": START}
        | {"mode": "standard"},
        id="kling-v2-1-standard",
    ),
    pytest.param(
        "kling-v2-6",
        {"prompt": PROMPT, "mode": "pro", "sound": True, "aspect_ratio": "9:16"},
        "kwaivgi/kling-v2.6",
        {"prompt": PROMPT, "duration": 5, "generate_audio": True, "aspect_ratio": "9:16"},
        id="kling-v2-6-text",
    ),
    pytest.param(
        "kling-v2-6",
        {"prompt": PROMPT, "mode": "pro", "image": START, "duration": "10"},
        "kwaivgi/kling-v2.6",
        {"prompt": PROMPT, "duration": 10, "generate_audio": False, "start_image": START},
        id="kling-v2-6-image",
    ),
    pytest.param(
        "kling-v3",
        {"prompt": PROMPT, "duration": 8, "sound": True},
        "kwaivgi/kling-v3-video",
        {"prompt": PROMPT, "duration": 8, "mode": "standard", "generate_audio": True}
        | {"aspect_ratio": "16:9"},
        id="kling-v3-std-text",
    ),
    pytest.param(
        "kling-v3",
        {"image": START, "mode": "pro"},
        "kwaivgi/kling-v3-video",
        {"duration": 5, "mode": "pro", "generate_audio": False, "start_image": START},
        id="kling-v3-pro-image-without-prompt",
    ),
    pytest.param(
        "google/veo-3-1",
        {"prompt": PROMPT, "duration": 8, "aspect_ratio": "9:16"},
        "google/veo-3.1",
        {"prompt": PROMPT, "aspect_ratio": "9:16", "duration": 8, "resolution": "720p"}
        | {"generate_audio": True},
        id="veo-3-1",
    ),
    pytest.param(
        "google/veo-3-1",
        {"prompt": PROMPT},  # the catalog's 5 s: made as the next longer length
        "google/veo-3.1",
        {"prompt": PROMPT, "aspect_ratio": "16:9", "duration": 6, "resolution": "720p"}
        | {"generate_audio": True},
        id="veo-3-1-5-seconds",
    ),
    pytest.param(
        "kling-motion-control",
        {"prompt": PROMPT, "image": START, "motion_video": MOTION, "version": "3.0"}
        | {"resolution": "1080p"},
        "kwaivgi/kling-v3-motion-control",
        {"prompt": PROMPT, "image": START, "video": MOTION, "mode": "pro"}
        | {"character_orientation": "video", "keep_original_sound": False},
        id="motion-control-3-0-1080p",
    ),
]


@pytest.mark.parametrize("model, input, name, body", SHAPES)
def test_it_creates_a_prediction_of_the_official_model_with_its_fields(
    alice, tmp_path, replicate, model, input, name, body
):
    provider = adapter(replicate.provider_row())
    outcome = provider.start(new(alice, model, **input), tmp_path, keep_lease)

    assert isinstance(outcome, Running), outcome
    (create,) = replicate.creates
    assert create.path == f"/v1/models/{name}/predictions"
    assert create.json() == {"input": body}
    assert create.header("Authorization") == f"Bearer {API_KEY}"
    assert create.header("Prefer") is None  # the poller waits, not the worker


NOT_SERVED = [
    pytest.param("kling-v2-6", {"prompt": PROMPT, "mode": "std"}, "pro mode only", id="2-6-std"),
    pytest.param(
        "kling-v2-6",
        {"prompt": PROMPT, "mode": "pro", "sound": True, "voice": True},
        "no voice option",
        id="2-6-voice",
    ),
    pytest.param(
        "google/veo-3-1",
        {"prompt": PROMPT, "duration": 8, "aspect_ratio": "21:9"},
        "not 21:9",
        id="veo-21-9",
    ),
    pytest.param(
        "kling-motion-control",
        {"image": START, "motion_video": MOTION},
        "no Replicate model is set for kling-motion-control 2.6",
        id="motion-control-2-6",
    ),
    pytest.param("kling/v2-1", {"prompt": PROMPT}, "does not offer kling/v2-1", id="kling-v2-1"),
]


@pytest.mark.parametrize("model, input, reason", NOT_SERVED)
def test_what_replicate_does_not_offer_is_refused_without_sending(
    alice, tmp_path, replicate, model, input, reason
):
    provider = adapter(replicate.provider_row())
    with pytest.raises(SubmitRefused, match=reason) as refused:
        provider.start(new(alice, model, **input), tmp_path, keep_lease)
    assert "nothing was sent" in str(refused.value)
    assert not refused.value.provider_fault  # this input, not Replicate's health
    assert replicate.server.requests == []


def test_a_model_pinned_to_a_version_is_created_by_version(alice, tmp_path, replicate):
    pinned = {"google/veo-3-1": "google/veo-3.1:9c6ca0c25d89"}
    provider = adapter(replicate.provider_row(model_map=pinned))
    submitted(provider, new(alice), tmp_path)

    (create,) = replicate.creates
    assert create.path == "/v1/predictions"
    assert create.json()["version"] == "google/veo-3.1:9c6ca0c25d89"


# Polls: every status word

PROGRESS_LOGS = "Starting\n 20%|████      | 20/100\n 40%|████████            | 40/100"


def test_it_reads_each_status_word_and_the_progress_in_the_logs(alice, tmp_path, replicate):
    generation, outcomes = polled(
        replicate,
        alice,
        tmp_path,
        Step("starting"),
        Step("processing", logs=PROGRESS_LOGS),
        Step("succeeded", logs=PROGRESS_LOGS + "\n100%|" + "█" * 20 + "| 100/100"),
        polls=3,
    )
    ref = generation.upstream_ref
    assert outcomes == [
        Running(ref),
        Running(ref, progress=40),
        Succeeded(video_url=replicate.video_url, note=f"upstream task {ref}"),
    ]
    polls = replicate.to(f"/v1/predictions/{ref}")
    assert [(r.method, r.header("Authorization")) for r in polls] == [
        ("GET", BEARER["Authorization"])
    ] * 3


def test_an_output_list_gives_its_first_url(alice, tmp_path, replicate):
    url = "https://replicate.delivery/xezq/abc/output.mp4"
    _, (outcome,) = polled(replicate, alice, tmp_path, Step("succeeded", output=[url]))
    assert outcome.video_url == url


def test_an_unknown_status_word_is_logged_and_polled_again(alice, tmp_path, replicate, caplog):
    _, (first, second) = polled(
        replicate, alice, tmp_path, Step("queued_for_gpu"), Step("succeeded"), polls=2
    )
    assert isinstance(first, Running) and isinstance(second, Succeeded)
    assert "'queued_for_gpu'" in caplog.text


ENDINGS = [
    pytest.param(
        Step("failed", error="The input or output was flagged as sensitive. (E005)"),
        Failed("CONTENT_VIOLATION", "The input or output was flagged as sensitive. (E005)"),
        id="flagged-sensitive",
    ),
    pytest.param(
        Step("failed", error="NSFW content detected in the output"),
        Failed("CONTENT_VIOLATION", "NSFW content detected in the output"),
        id="nsfw",
    ),
    pytest.param(
        Step("failed", error="Failed to download the start image: 404"),
        Failed("INVALID_IMAGE_URL", "Failed to download the start image: 404"),
        id="image",
    ),
    pytest.param(
        Step("failed", error="Prediction timed out"),
        Failed("UPSTREAM_ERROR", "Prediction timed out"),
        id="other-failure",
    ),
    pytest.param(
        Step("failed"),
        Failed("UPSTREAM_ERROR", "The upstream reported the generation failed without a reason."),
        id="no-reason",
    ),
    pytest.param(
        Step("canceled"),
        Failed("UPSTREAM_ERROR", "The prediction was canceled upstream."),
        id="canceled",
    ),
    pytest.param(Step("succeeded", output=None), Failed("UPSTREAM_ERROR", NO_URL), id="no-output"),
]


@pytest.mark.parametrize("step, expected", ENDINGS)
def test_a_prediction_that_failed_ends_with_its_reason(alice, tmp_path, replicate, step, expected):
    generation, (outcome,) = polled(replicate, alice, tmp_path, step)
    assert outcome == Failed(expected.code, expected.message.format(ref=generation.upstream_ref))


def test_a_prediction_without_a_status_is_a_poll_error(alice, tmp_path, replicate):
    replicate.script(Reply.json({"id": "x", "status": None}))
    provider = adapter(replicate.provider_row())
    generation = submitted(provider, new(alice), tmp_path)
    with pytest.raises(PollError, match="no status"):
        provider.poll(generation)


def test_a_prediction_replicate_never_had_is_not_found(alice, replicate):
    generation = new(alice)
    generation.upstream_ref = "qj8x2k0000000000000000000"
    outcome = adapter(replicate.provider_row()).poll(generation)
    assert outcome == Failed(
        "UPSTREAM_ERROR",
        f"The upstream has no task {generation.upstream_ref} "
        "(code 404: Not found: The requested resource could not be found.).",
    )


def test_a_throttled_poll_keeps_the_pace_asked(alice, tmp_path, replicate):
    throttled = problem(429, "Too many requests", "Throttled.", headers={"Retry-After": "6"})
    replicate.script(throttled, Step("succeeded"))
    provider = adapter(replicate.provider_row())
    generation = submitted(provider, new(alice), tmp_path)
    with pytest.raises(PollError) as error:
        provider.poll(generation)
    assert error.value.retry_after == 6.0
    assert isinstance(provider.poll(generation), Succeeded)


# Creates Replicate refuses, or whose answer is lost

REFUSALS = [
    pytest.param(
        problem(402, "Insufficient credit", "You have insufficient credit to run this model."),
        "code 402: Insufficient credit: You have insufficient credit to run this model.",
        None,
        id="out-of-credit",
    ),
    pytest.param(
        Reply.json(
            {"detail": "Request was throttled. Your rate limit resets in ~30s."},
            status=429,
            headers={"Retry-After": "30"},
        ),
        "code 429: Request was throttled.",
        30.0,
        id="rate-limited",
    ),
]


@pytest.mark.parametrize("reply, reason, retry_after", REFUSALS)
def test_a_create_replicate_refused_lets_the_next_provider_try(
    alice, tmp_path, replicate, reply, reason, retry_after
):
    replicate.on_create(reply)
    with pytest.raises(SubmitRefused) as refused:
        adapter(replicate.provider_row()).start(new(alice), tmp_path, keep_lease)
    assert reason in str(refused.value)
    assert refused.value.retry_after == retry_after


def test_bad_input_is_refused_with_replicates_words(alice, tmp_path, replicate):
    # Kling 2.6 needs a prompt on Replicate; the catalog lets an image go without.
    generation = new(alice, "kling-v2-6", mode="pro", image=START)
    with pytest.raises(SubmitRefused, match="code 422: Input validation failed: - input.prompt"):
        adapter(replicate.provider_row()).start(generation, tmp_path, keep_lease)
    assert replicate.predictions == {}


def test_a_wrong_token_is_refused(alice, tmp_path, replicate):
    provider = adapter(replicate.provider_row(credentials={"api_key": "r8_someone_elses"}))
    with pytest.raises(SubmitRefused, match="code 401: Unauthenticated"):
        provider.start(new(alice), tmp_path, keep_lease)
    assert replicate.predictions == {}


@pytest.mark.parametrize(
    "reply, reason",
    [
        pytest.param(problem(500, "Internal server error", "Oops"), "code 500", id="500"),
        pytest.param(Reply.json({"status": "starting"}, 201), "without a usable", id="no-id"),
    ],
)
def test_a_create_whose_answer_gives_no_id_is_ambiguous(alice, tmp_path, replicate, reply, reason):
    replicate.on_create(reply)
    outcome = adapter(replicate.provider_row()).start(new(alice), tmp_path, keep_lease)
    assert isinstance(outcome, Failed) and outcome.code == "UPSTREAM_AMBIGUOUS"
    assert reason in outcome.message


# The token


def test_an_output_on_the_apis_origin_is_fetched_with_the_token_and_elsewhere_without(
    alice, tmp_path, replicate
):
    on_api = replicate.url + PRIVATE_PATH
    replicate.script(Step("succeeded"), Step("succeeded", output=on_api))
    provider = adapter(replicate.provider_row())
    generation = submitted(provider, new(alice), tmp_path)
    on_cdn, private = provider.poll(generation), provider.poll(generation)

    assert on_cdn.download_headers == {}
    assert (private.video_url, private.download_headers) == (on_api, BEARER)
    assert httpx.get(on_api).status_code == 401
    assert httpx.get(on_api, headers=BEARER).content[4:8] == b"ftyp"


def test_the_token_never_appears_in_a_message(alice, tmp_path, replicate):
    echoed = f"Invalid token {API_KEY}"
    replicate.on_create(problem(401, "Unauthenticated", echoed), problem(422, echoed, "bad"))
    replicate.script(problem(500, "Internal server error", echoed), Step("failed", error=echoed))
    provider = adapter(replicate.provider_row())
    generation = new(alice)
    messages = []
    for _ in range(2):
        with pytest.raises(SubmitRefused) as refused:
            provider.start(generation, tmp_path, keep_lease)
        messages.append(str(refused.value))
    submitted(provider, generation, tmp_path)
    with pytest.raises(PollError) as error:
        provider.poll(generation)
    messages += [str(error.value), provider.poll(generation).message]

    assert len(messages) == 4
    assert all(API_KEY not in message and HIDDEN_KEY in message for message in messages)


def test_cancel_posts_to_the_predictions_cancel(alice, tmp_path, replicate):
    provider = adapter(replicate.provider_row())
    generation = submitted(provider, new(alice), tmp_path)
    provider.cancel(generation)

    (cancel,) = replicate.to(f"/v1/predictions/{generation.upstream_ref}/cancel")
    assert (cancel.method, cancel.header("Authorization")) == ("POST", f"Bearer {API_KEY}")
    assert replicate.predictions[generation.upstream_ref]["status"] == "canceled"


def test_the_check_reads_the_account(replicate):
    said = adapter(replicate.provider_row()).check()
    assert said == "credentials accepted; account reelgate-tests"
    (check,) = replicate.server.requests
    assert (check.method, check.path) == ("GET", "/v1/account")

    wrong = adapter(replicate.provider_row(name="wrong", credentials={"api_key": "r8_nope"}))
    with pytest.raises(CheckFailed, match="code 401: Unauthenticated"):
        wrong.check()


# The engine


def test_an_output_removed_after_the_hour_fails_the_generation(alice, tmp_path, replicate):
    replicate.script(Step("succeeded", output=replicate.cdn_url + EXPIRED_PATH))
    row = replicate.provider_row()
    generation = submitted(adapter(row), new(alice), tmp_path)
    Generation.objects.filter(pk=generation.pk).update(
        state=Generation.GENERATING, provider=row, upstream_ref=generation.upstream_ref
    )
    tasks.poll_generation(generation.pk, 0)

    generation.refresh_from_db()
    assert (generation.state, generation.fail_code) == (Generation.FAIL, "UPSTREAM_ERROR")
    assert "could not be stored" in generation.fail_msg
    assert CreditAccount.objects.get(team__members__user=alice).held == Decimal("0.00")


def test_it_makes_a_video_on_replicate_stores_it_and_charges_the_quote(worker, alice):
    with ReplicateServer() as replicate:
        on_api = replicate.url + PRIVATE_PATH  # the worker must send the token for it
        replicate.script(Step("starting"), Step("processing"), Step("succeeded", output=on_api))
        row = replicate.provider_row(priority=10)
        generation = services.submit(user=alice, model="google/veo-3-1", input=VEO)
        finish(generation)

    assert generation.state == Generation.SUCCESS, generation.fail_msg
    assert generation.provider_id == row.pk
    assert generation.upstream_ref in replicate.predictions
    assert generation.charged_credits == generation.quoted_credits == Decimal("60.00")
    account = CreditAccount.objects.get(team__members__user=alice)
    assert (account.balance, account.held) == (Decimal("440.00"), Decimal("0.00"))
    with default_storage.open(generation.video.name) as handle, av.open(handle) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (64, 64)
    (download,) = replicate.server.requests_to(PRIVATE_PATH)
    assert download.header("Authorization") == f"Bearer {API_KEY}"


# Another Reelgate as the upstream: the real thing, not a fake


def upstream_credits(url: str, key: str) -> dict:
    answer = httpx.get(url + "/api/v1/account/credits", headers={"Authorization": f"Bearer {key}"})
    return answer.json()["data"]


def test_another_reelgate_makes_the_video_from_our_catalog_input(
    upstream_reelgate,  # noqa: F811
    worker,
    alice,
):
    url, key = upstream_reelgate
    row = Provider.objects.create(
        name="upstream reelgate (replicate)",
        kind=Provider.REPLICATE,
        base_url=url,
        credentials={"api_key": key},
        options={"input_style": "reelgate"},
        priority=1,
    )
    before = upstream_credits(url, key)
    input = {"mode": "master-text-to-video", "prompt": PROMPT, "duration": "5"}
    generation = services.submit(user=alice, model="kling-2-1", input=input)
    finished(generation)
    after = upstream_credits(url, key)

    assert generation.state == Generation.SUCCESS, generation.fail_msg
    assert generation.provider == row
    assert generation.upstream_ref.startswith("gen_")  # the upstream's own prediction id
    with default_storage.open(generation.video.name) as handle, av.open(handle) as container:
        assert container.streams.video[0].codec_context.width == generation.width > 0
    quote = generation.quoted_credits
    assert generation.charged_credits == quote == Decimal("160.00")
    account = CreditAccount.objects.get(team__members__user=alice)
    assert (account.balance, account.held) == (Decimal("500.00") - quote, Decimal("0.00"))
    # The upstream charged its own quote for the same catalog model, once.
    assert Decimal(str(before["balance"])) - Decimal(str(after["balance"])) == quote
    assert after["held"] == 0
    assert adapter(row).check() == "credentials accepted"
