"""The OpenAI-style /v1/videos adapter: OpenAI's API, new-api, LiteLLM and another Reelgate.

Against a loopback server that speaks the contract (openai_videos_server.py), then
against a second live Reelgate, which serves the same contract itself.
"""

from decimal import Decimal

import av
import pytest
from django.core.files.storage import default_storage

from accounts.models import CreditAccount
from playground import providers, services, tasks
from playground.models import Generation, Provider
from playground.providers.base import CheckFailed, Failed, PollError, Running, SubmitRefused
from playground.providers.openai_videos import OpenAIVideosProvider
from playground.providers.upstream import HIDDEN_KEY
from tests.contract.fakes import API_KEY, finish, keep_lease, sample_jpeg
from tests.contract.openai_videos_server import (
    HTML_INPUT,
    IMAGE_INPUT,
    OpenAIVideosServer,
    Status,
    new_api_error,
    openai_error,
    parse_form,
)
from tests.contract.test_chained_reelgate import finished
from tests.httpservers import LoopbackServer, Reply

pytestmark = pytest.mark.django_db

TEXT_MODEL = "kling/v2-1"
TEXT_INPUT = {"prompt": "Aerial shot over coastal cliffs at golden hour", "resolution": "480p"}


def submit(user, model=TEXT_MODEL, input=TEXT_INPUT) -> Generation:
    return services.submit(user=user, model=model, input=input)


def started(provider, generation, tmp_path) -> Generation:
    outcome = provider.start(generation, tmp_path, keep_lease)
    assert isinstance(outcome, Running), outcome
    generation.upstream_ref = outcome.reference
    return generation


@pytest.fixture
def server():
    with OpenAIVideosServer() as running:
        yield running


@pytest.fixture
def private_inputs(settings):
    # Input images live on the loopback server, as the workers allow in tests.
    settings.ALLOW_PRIVATE_URLS = True


# The create request


def test_the_registry_maps_the_kind_to_this_adapter():
    row = Provider.objects.create(name="o", kind=Provider.OPENAI_VIDEOS)
    provider = providers.for_row(row)
    assert type(provider) is OpenAIVideosProvider
    assert provider.base_url == "https://api.openai.com"


def test_it_posts_a_multipart_form_with_the_bearer_key_even_without_a_file(alice, tmp_path, server):
    provider = providers.for_row(server.provider_row())
    generation = started(provider, submit(alice), tmp_path)

    (create,) = server.creates
    assert create.header("Authorization") == f"Bearer {API_KEY}"
    assert create.header("Content-Type").startswith("multipart/form-data; boundary=")
    form = parse_form(create)
    assert form.files == {}
    assert form.fields == {
        "model": ["kling/v2-1"],
        "prompt": ["Aerial shot over coastal cliffs at golden hour"],
        "seconds": ["5"],
        "size": ["854x480"],
        # The catalog's other inputs, as the SDK sends extra_body in a form.
        "aspect_ratio": ["16:9"],
        "resolution": ["480p"],
        "generate_audio": ["false"],
    }
    assert generation.upstream_ref == "video_1"


def test_it_uploads_the_image_as_input_reference(alice, tmp_path, server, private_inputs):
    input = {
        "prompt": "Steam rises from the train",
        "image_url": server.url + IMAGE_INPUT,
        "duration": "10",
        "negative_prompt": "blur",
    }
    provider = providers.for_row(server.provider_row())
    started(provider, submit(alice, "kling/v2-1-standard", input), tmp_path)

    form = parse_form(server.creates[0])
    assert form.files == {"input_reference": ("input_reference.jpg", "image/jpeg", sample_jpeg())}
    assert form.fields == {
        "model": ["kling/v2-1-standard"],
        "prompt": ["Steam rises from the train"],
        "seconds": ["10"],
        "size": ["1280x720"],
        "negative_prompt": ["blur"],
        "cfg_scale": ["0.5"],
    }


def test_a_start_and_end_frame_go_as_image_urls_not_one_file(alice, tmp_path, server):
    frames = ["https://cdn.example/bud.jpg", "https://cdn.example/bloom.jpg"]
    input = {"mode": "pro-image-to-video", "prompt": "The bud opens", "image_urls": frames}
    provider = providers.for_row(server.provider_row())
    started(provider, submit(alice, "kling-2-1", input), tmp_path)

    form = parse_form(server.creates[0])
    assert form.files == {}
    assert form.fields["image_urls[]"] == frames
    assert form.fields["mode"] == ["pro-image-to-video"]
    assert form.fields["size"] == ["1920x1080"]


def test_an_image_that_cannot_be_fetched_fails_before_anything_is_sent(
    alice, tmp_path, server, private_inputs
):
    input = {"prompt": "A cat", "image_url": server.url + HTML_INPUT}
    provider = providers.for_row(server.provider_row())
    outcome = provider.start(submit(alice, "kling/v2-1-standard", input), tmp_path, keep_lease)

    assert isinstance(outcome, Failed)
    assert outcome.code == "INVALID_IMAGE_URL"
    assert "not an accepted file type" in outcome.message
    assert server.creates == []


def test_the_model_map_names_the_gateways_model(alice, tmp_path, server):
    row = server.provider_row(model_map={TEXT_MODEL: "kling-v2.1-master"})
    started(providers.for_row(row), submit(alice), tmp_path)
    assert parse_form(server.creates[0]).fields["model"] == ["kling-v2.1-master"]


def test_a_base_url_ending_in_v1_is_not_doubled(alice, tmp_path, server):
    row = server.provider_row()
    row.base_url = server.url + "/v1"
    provider = providers.for_row(row)
    provider.poll(started(provider, submit(alice), tmp_path))
    assert [r.path for r in server.server.requests] == ["/v1/videos", "/v1/videos/video_1"]


def test_without_extra_fields_it_sends_only_openais_parameters(alice, tmp_path, server):
    input = {"prompt": "A girl dancing", "mode": "pro", "duration": "10", "aspect_ratio": "9:16"}
    row = server.provider_row(options={"extra_fields": False}, model_map={"kling-v2-6": "sora-2"})
    started(providers.for_row(row), submit(alice, "kling-v2-6", input), tmp_path)

    assert parse_form(server.creates[0]).fields == {
        "model": ["sora-2"],
        "prompt": ["A girl dancing"],
        "seconds": ["10"],
        "size": ["1080x1920"],
    }


def test_without_extra_fields_an_input_they_cannot_carry_is_refused_unsent(alice, tmp_path, server):
    input = {"prompt": "A girl dancing", "mode": "pro", "sound": True}
    row = server.provider_row(options={"extra_fields": False})
    provider = providers.for_row(row)
    with pytest.raises(SubmitRefused, match="cannot carry sound"):
        provider.start(submit(alice, "kling-v2-6", input), tmp_path, keep_lease)
    assert server.creates == []


# Status words


@pytest.mark.parametrize(
    "word, progress, expected",
    [
        ("queued", 0, 0),
        ("in_progress", 40, 40),
        ("in_progress", "55%", 55),  # new-api's own progress text
        ("QUEUED", None, None),
        ("IN_PROGRESS", "70%", 70),
        ("NOT_START", None, None),
        ("SUBMITTED", None, None),
        ("UNKNOWN", None, None),  # new-api has not heard from its upstream yet
        ("unknown", None, None),
    ],
)
def test_every_running_word_keeps_polling(alice, tmp_path, server, word, progress, expected):
    server.script(Status(word, progress=progress))
    provider = providers.for_row(server.provider_row())
    generation = started(provider, submit(alice), tmp_path)
    assert provider.poll(generation) == Running("video_1", progress=expected)


def test_an_unknown_word_is_logged_and_polled_again(alice, tmp_path, server, caplog):
    server.script(Status("awaiting_review"), Status("completed"))
    provider = providers.for_row(server.provider_row())
    generation = started(provider, submit(alice), tmp_path)
    assert provider.poll(generation) == Running("video_1")
    assert "'awaiting_review'" in caplog.text
    assert provider.poll(generation).video_url.endswith("/v1/videos/video_1/content")


def test_a_status_answer_without_a_status_is_a_poll_error(alice, tmp_path, server):
    server.script(Reply.json({"id": "video_1", "object": "video"}), Status("completed"))
    provider = providers.for_row(server.provider_row())
    generation = started(provider, submit(alice), tmp_path)
    with pytest.raises(PollError, match="no status"):
        provider.poll(generation)


@pytest.mark.parametrize("word", ["completed", "SUCCESS"])
def test_completed_without_a_url_is_fetched_from_content_with_the_key(
    alice, tmp_path, server, word
):
    server.script(Status(word, progress=100))
    provider = providers.for_row(server.provider_row())
    generation = started(provider, submit(alice), tmp_path)
    outcome = provider.poll(generation)

    content = f"{server.url}/v1/videos/video_1/content"
    assert outcome.video_url == content
    assert outcome.poster_url == content + "?variant=thumbnail"
    assert outcome.download_headers == {"Authorization": f"Bearer {API_KEY}"}


def test_new_apis_metadata_url_is_used_and_gets_no_key_elsewhere(alice, tmp_path, server):
    with LoopbackServer() as cdn:
        video_url = cdn.url + "/v/result.mp4"
        server.script(Status("SUCCESS", progress="100%", url=video_url))
        provider = providers.for_row(server.provider_row())
        generation = started(provider, submit(alice), tmp_path)
        outcome = provider.poll(generation)

    assert outcome.video_url == video_url
    assert outcome.poster_url is None
    assert outcome.download_headers == {}


@pytest.mark.parametrize(
    "error, code, message",
    [
        (
            {"code": "moderation_blocked", "message": "Your request was blocked."},
            "CONTENT_VIOLATION",
            "Your request was blocked. (upstream code moderation_blocked)",
        ),
        (
            {"code": "task_failed", "message": "Rejected by the safety system"},
            "CONTENT_VIOLATION",
            "Rejected by the safety system (upstream code task_failed)",
        ),
        (
            {"code": "CONTENT_VIOLATION", "message": "The prompt contains a blocked term."},
            "CONTENT_VIOLATION",
            "The prompt contains a blocked term.",
        ),
        (
            {"code": "INVALID_IMAGE_URL", "message": "Cannot fetch the image."},
            "INVALID_IMAGE_URL",
            "Cannot fetch the image.",
        ),
        (
            {"code": "internal_error", "message": "Video generation failed"},
            "UPSTREAM_ERROR",
            "Video generation failed (upstream code internal_error)",
        ),
        (None, "UPSTREAM_ERROR", "The upstream reported the generation failed without a reason."),
    ],
    ids=["moderation-code", "moderation-words", "reelgate-code", "image", "other", "no-error"],
)
@pytest.mark.parametrize("word", ["failed", "FAILURE"])
def test_a_failure_keeps_its_reason_under_our_code(
    alice, tmp_path, server, word, error, code, message
):
    server.script(Status(word, error=error))
    provider = providers.for_row(server.provider_row())
    generation = started(provider, submit(alice), tmp_path)
    assert provider.poll(generation) == Failed(code, message)


def test_a_video_the_upstream_does_not_know_is_not_found(alice, server):
    generation = submit(alice)
    generation.upstream_ref = "video_unknown"
    outcome = providers.for_row(server.provider_row()).poll(generation)
    assert outcome == Failed(
        "UPSTREAM_ERROR",
        "The upstream has no task video_unknown "
        "(code 404: Video with id 'video_unknown' not found. (not_found)).",
    )


# Submits refused, or ambiguous


@pytest.mark.parametrize(
    "reply, reason, retry_after",
    [
        (
            openai_error(400, "Your request was blocked by moderation.", "moderation_blocked"),
            "blocked by moderation",
            None,
        ),
        (
            openai_error(429, "You exceeded your current quota.", "insufficient_quota"),
            "code 429: You exceeded your current quota. (insufficient_quota)",
            None,
        ),
        (
            openai_error(
                429, "Rate limit reached", "rate_limit_exceeded", headers={"Retry-After": "7"}
            ),
            "Rate limit reached (rate_limit_exceeded)",
            7.0,
        ),
        (
            openai_error(400, "Invalid value: '5'. Supported values are: '4', '8', '12'."),
            "Supported values are",
            None,
        ),
        (new_api_error(402, "user quota is not enough", "quota_not_enough"), "quota", None),
        (
            Reply.json({"error": {"message": "model not found", "code": "model_not_found"}}),
            "model not found (model_not_found)",
            None,
        ),
    ],
    ids=["moderation", "quota", "rate-limit", "bad-input", "new-api-balance", "error-in-a-200"],
)
def test_a_refused_create_lets_the_next_provider_try(
    alice, tmp_path, server, reply, reason, retry_after
):
    server.on_submit(reply)
    provider = providers.for_row(server.provider_row())
    with pytest.raises(SubmitRefused) as refused:
        provider.start(submit(alice), tmp_path, keep_lease)
    assert reason in str(refused.value)
    assert refused.value.retry_after == retry_after


def test_a_wrong_key_is_refused(alice, tmp_path, server):
    row = server.provider_row(credentials={"api_key": "sk-someone-elses"})
    with pytest.raises(SubmitRefused, match="code 401: Incorrect API key"):
        providers.for_row(row).start(submit(alice), tmp_path, keep_lease)
    assert server.tasks == {}


@pytest.mark.parametrize(
    "reply",
    [
        openai_error(500, "The server had an error", kind="server_error"),
        Reply(status=502, body="<html>bad gateway</html>"),
        Reply(body="{not json", headers={"Content-Type": "application/json"}),
        Reply.json({"object": "video", "status": "queued"}),
    ],
    ids=["500", "502-html", "malformed", "no-id"],
)
def test_a_create_whose_answer_is_unusable_is_ambiguous_and_not_resent(
    alice, tmp_path, server, reply
):
    server.on_submit(reply)
    outcome = providers.for_row(server.provider_row()).start(submit(alice), tmp_path, keep_lease)
    assert isinstance(outcome, Failed)
    assert outcome.code == "UPSTREAM_AMBIGUOUS"
    assert len(server.creates) == 1


def test_a_rate_limited_poll_is_retried_at_the_upstreams_pace(alice, tmp_path, server):
    slow_down = openai_error(429, "Slow down", "rate_limit_exceeded", headers={"Retry-After": "9"})
    server.script(slow_down, Status("completed"))
    provider = providers.for_row(server.provider_row())
    generation = started(provider, submit(alice), tmp_path)
    with pytest.raises(PollError) as error:
        provider.poll(generation)
    assert error.value.retry_after == 9.0
    assert provider.poll(generation).video_url is not None


# The key


def test_the_api_key_never_appears_in_a_message(alice, tmp_path, server):
    echoed = f"Incorrect API key provided: {API_KEY}"
    server.on_submit(openai_error(401, echoed, "invalid_api_key"), new_api_error(400, echoed, "x"))
    server.script(
        openai_error(500, echoed, kind="server_error"),
        openai_error(400, echoed),
        Status("failed", error={"code": "x", "message": echoed}),
    )
    provider = providers.for_row(server.provider_row())
    generation = submit(alice)
    messages = []
    for _ in range(2):
        with pytest.raises(SubmitRefused) as refused:
            provider.start(generation, tmp_path, keep_lease)
        messages.append(str(refused.value))
    started(provider, generation, tmp_path)
    with pytest.raises(PollError) as error:
        provider.poll(generation)
    messages += [str(error.value), provider.poll(generation).message]
    messages.append(provider.poll(generation).message)

    assert len(messages) == 5
    assert all(API_KEY not in message and HIDDEN_KEY in message for message in messages)


def test_the_connection_check_lists_models_and_refuses_a_wrong_key(server):
    assert providers.for_row(server.provider_row()).check() == (
        "credentials accepted; 1 models listed"
    )
    wrong = server.provider_row(name="wrong", credentials={"api_key": "sk-wrong"})
    with pytest.raises(CheckFailed, match="code 401"):
        providers.for_row(wrong).check()


def test_cancel_sends_nothing_openai_has_no_cancel(alice, tmp_path, server):
    provider = providers.for_row(server.provider_row())
    generation = started(provider, submit(alice), tmp_path)
    server.server.clear()
    provider.cancel(generation)
    assert server.server.requests == []


# The engine


def test_an_expired_content_url_fails_the_generation_and_releases_the_hold(alice, tmp_path, server):
    server.script(Status("completed", expired=True))
    row = server.provider_row()
    generation = started(providers.for_row(row), submit(alice), tmp_path)
    Generation.objects.filter(pk=generation.pk).update(
        state=Generation.GENERATING, provider=row, upstream_ref=generation.upstream_ref
    )
    tasks.poll_generation(generation.pk, 0)

    generation.refresh_from_db()
    assert (generation.state, generation.fail_code) == (Generation.FAIL, "UPSTREAM_ERROR")
    assert "could not be stored" in generation.fail_msg
    assert CreditAccount.objects.get(team__members__user=alice).held == Decimal("0.00")


def test_it_makes_a_video_through_the_worker_stores_it_and_charges(worker, alice, server):
    server.script(Status("queued"), Status("in_progress", progress=50), Status("completed"))
    row = server.provider_row()
    generation = finish(submit(alice))

    assert generation.state == Generation.SUCCESS, generation.fail_msg
    assert (generation.provider_id, generation.upstream_ref) == (row.pk, "video_1")
    assert generation.charged_credits == generation.quoted_credits == Decimal("55.00")
    account = CreditAccount.objects.get(team__members__user=alice)
    assert (account.balance, account.held) == (Decimal("445.00"), Decimal("0.00"))
    with default_storage.open(generation.video.name) as handle, av.open(handle) as container:
        assert container.streams.video[0].codec_context.width == 64
    assert default_storage.exists(generation.poster.name)
    contents = server.contents("video_1")
    assert sorted(r.target.partition("?")[2] for r in contents) == ["", "variant=thumbnail"]
    assert {r.header("Authorization") for r in contents} == {f"Bearer {API_KEY}"}


# Another Reelgate, live


@pytest.mark.parametrize(
    "model, input, price",
    [
        # mode goes as an extra field: size alone names three 1080p modes.
        ("kling-2-1", {"mode": "master-text-to-video"}, Decimal("160.00")),
        # The image goes up as the input_reference file.
        ("kling/v2-1-standard", {"image_url": IMAGE_INPUT}, Decimal("25.00")),
    ],
    ids=["text", "input-reference"],
)
def test_a_second_reelgate_makes_the_video_over_its_openai_contract(
    upstream_reelgate,  # noqa: F811
    worker,
    alice,
    server,
    model,
    input,
    price,
):
    url, key = upstream_reelgate
    row = Provider.objects.create(
        name="upstream openai videos",
        kind=Provider.OPENAI_VIDEOS,
        base_url=url + "/v1",
        credentials={"api_key": key},
        priority=1,
    )
    input = {
        "prompt": "A glass of water on a windowsill",
        **{
            name: server.url + value if value == IMAGE_INPUT else value
            for name, value in input.items()
        },
    }
    generation = finished(services.submit(user=alice, model=model, input=input))

    assert generation.state == Generation.SUCCESS, generation.fail_msg
    assert generation.provider == row
    assert generation.upstream_ref.startswith("gen_")  # the upstream's own id
    assert generation.width and generation.height and generation.size_bytes > 0
    assert default_storage.exists(generation.video.name)
    assert generation.charged_credits == generation.quoted_credits == price
    account = CreditAccount.objects.get(team__members__user=alice)
    assert (account.balance, account.held) == (Decimal("500.00") - price, Decimal("0.00"))
