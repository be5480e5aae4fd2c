"""The Kie.ai Veo 3.1 adapter (/api/v1/veo/generate, record-info), against a loopback Kie."""

from decimal import Decimal

import av
import pytest
from django.core.files.storage import default_storage

from accounts.models import CreditAccount
from playground import providers, services, tasks
from playground.models import Generation, Provider
from playground.providers.base import (
    CheckFailed,
    Failed,
    PollError,
    Running,
    SubmitRefused,
    Succeeded,
)
from playground.providers.kie_veo import KieVeoProvider
from playground.providers.upstream import HIDDEN_KEY
from tests.contract.fakes import API_KEY, finish, keep_lease
from tests.contract.kie_veo_server import EXPIRED, VIDEO, KieVeoServer, Record, kie_error
from tests.httpservers import Reply

pytestmark = pytest.mark.django_db

MODEL = "google/veo-3-1"
PROMPT = "A keyboard whose keys are made of candy. Audio: crunchy typing sounds."


def submit(user, model=MODEL, **input) -> Generation:
    return services.submit(user=user, model=model, input={"prompt": PROMPT, **input})


def started(provider, generation, tmp_path) -> Generation:
    outcome = provider.start(generation, tmp_path, keep_lease)
    assert isinstance(outcome, Running), outcome
    generation.upstream_ref = outcome.reference
    return generation


@pytest.fixture
def kie():
    with KieVeoServer() as server:
        yield server


def polled(kie, alice, tmp_path, *script):
    kie.script(*script)
    provider = providers.for_row(kie.provider_row())
    generation = started(provider, submit(alice), tmp_path)
    return [provider.poll(generation) for _ in script]


# The requests


def test_the_registry_maps_the_kind_to_this_adapter():
    provider = providers.for_row(Provider.objects.create(name="k", kind=Provider.KIE_VEO))
    assert type(provider) is KieVeoProvider
    assert provider.base_url == "https://api.kie.ai"


def test_it_sends_a_flat_json_body_with_the_bearer_key(alice, tmp_path, kie):
    generation = started(providers.for_row(kie.provider_row()), submit(alice), tmp_path)

    (generate,) = kie.generates
    assert generate.header("Authorization") == f"Bearer {API_KEY}"
    assert generate.json() == {
        "prompt": PROMPT,
        "model": "veo3",
        "aspect_ratio": "16:9",
        "generationType": "TEXT_2_VIDEO",
    }
    assert generation.upstream_ref == "veo_task_1"


def test_it_polls_record_info_by_task_id(alice, tmp_path, kie):
    polled(kie, alice, tmp_path, Record(0))
    (record,) = kie.records
    assert record.query == {"taskId": ["veo_task_1"]}
    assert record.header("Authorization") == f"Bearer {API_KEY}"


def test_the_fast_tier_and_the_other_aspect_ratio_spelling_are_row_settings(alice, tmp_path, kie):
    row = kie.provider_row(
        model_map={MODEL: "veo3_fast"}, options={"aspect_ratio_field": "aspectRatio"}
    )
    started(providers.for_row(row), submit(alice, aspect_ratio="9:16", duration=8), tmp_path)
    body = kie.generates[0].json()
    assert (body["model"], body["aspectRatio"]) == ("veo3_fast", "9:16")
    assert "aspect_ratio" not in body


@pytest.mark.parametrize("ratio", ["4:3", "1:1", "3:4", "21:9"])
def test_an_aspect_ratio_kie_cannot_make_is_refused_unsent(alice, tmp_path, kie, ratio):
    provider = providers.for_row(kie.provider_row())
    with pytest.raises(SubmitRefused, match=f"16:9 or 9:16 videos, not {ratio}"):
        provider.start(submit(alice, aspect_ratio=ratio), tmp_path, keep_lease)
    assert kie.generates == []


def test_a_model_kie_does_not_make_is_refused_unsent(alice, tmp_path, kie):
    provider = providers.for_row(kie.provider_row())
    generation = submit(alice, "kling-v2-6", mode="std")
    with pytest.raises(SubmitRefused, match="does not make kling-v2-6"):
        provider.start(generation, tmp_path, keep_lease)
    assert kie.generates == []


# Status: successFlag


def test_it_polls_through_generating_to_the_result_url(alice, tmp_path, kie):
    outcomes = polled(kie, alice, tmp_path, Record(0), Record(0), Record(1))
    assert outcomes == [
        Running("veo_task_1"),
        Running("veo_task_1"),
        Succeeded(video_url=kie.url + VIDEO, note="upstream task veo_task_1"),
    ]


@pytest.mark.parametrize("flag", [1.0, "1"])
def test_a_success_flag_sent_as_text_or_float_still_reads(alice, tmp_path, kie, flag):
    (outcome,) = polled(kie, alice, tmp_path, Record(flag))
    assert outcome.video_url == kie.url + VIDEO


@pytest.mark.parametrize(
    "record, expected",
    [
        (
            Record(2, "Your prompt was flagged by the content policy", 400),
            Failed(
                "CONTENT_VIOLATION",
                "Your prompt was flagged by the content policy (upstream code 400)",
            ),
        ),
        (
            Record(3, "The image is unsafe", 400),
            Failed("CONTENT_VIOLATION", "The image is unsafe (upstream code 400)"),
        ),
        (
            Record(3, "Image fetch failed: 403 from the host", 400),
            Failed(
                "INVALID_IMAGE_URL", "Image fetch failed: 403 from the host (upstream code 400)"
            ),
        ),
        (
            Record(3, "Generation failed, please retry", 501),
            Failed("UPSTREAM_ERROR", "Generation failed, please retry (upstream code 501)"),
        ),
        (
            Record(2),
            Failed(
                "UPSTREAM_ERROR", "The upstream reported the generation failed without a reason."
            ),
        ),
        (
            Record(1, result_urls=[]),
            Failed(
                "UPSTREAM_ERROR",
                "The upstream reported task veo_task_1 done but gave no usable result URL.",
            ),
        ),
        (
            Record(1, result_urls=["ftp://cdn.example/a.mp4"]),
            Failed(
                "UPSTREAM_ERROR",
                "The upstream reported task veo_task_1 done but gave no usable result URL.",
            ),
        ),
    ],
    ids=["moderation", "unsafe-image", "image-fetch", "generation", "no-reason", "no-url", "ftp"],
)
def test_a_failed_record_keeps_its_reason_under_our_code(alice, tmp_path, kie, record, expected):
    assert polled(kie, alice, tmp_path, record) == [expected]


def test_an_unknown_flag_is_logged_and_polled_again(alice, tmp_path, kie, caplog):
    outcomes = polled(kie, alice, tmp_path, Record(7), Record(1))
    assert outcomes[0] == Running("veo_task_1")
    assert isinstance(outcomes[1], Succeeded)
    assert "'7'" in caplog.text


@pytest.mark.parametrize(
    "reply, retry_after",
    [
        (Reply.json({"code": 200, "msg": "success", "data": {"taskId": "veo_task_1"}}), None),
        (kie_error(429, "Too many requests", status=429, headers={"Retry-After": "8"}), 8.0),
        (kie_error(455, "Service under maintenance"), None),
        (kie_error(500, "Internal error", status=500), None),
    ],
    ids=["no-flag", "429", "455-maintenance", "500"],
)
def test_a_transient_poll_answer_is_a_poll_error(alice, tmp_path, kie, reply, retry_after):
    kie.script(reply, Record(1))
    provider = providers.for_row(kie.provider_row())
    generation = started(provider, submit(alice), tmp_path)
    with pytest.raises(PollError) as error:
        provider.poll(generation)
    assert error.value.retry_after == retry_after
    assert isinstance(provider.poll(generation), Succeeded)


def test_a_task_kie_does_not_know_is_not_found(alice, kie):
    generation = submit(alice)
    generation.upstream_ref = "veo_task_unknown"
    outcome = providers.for_row(kie.provider_row()).poll(generation)
    assert outcome == Failed(
        "UPSTREAM_ERROR",
        "The upstream has no task veo_task_unknown (code 404: Task veo_task_unknown not found).",
    )


# Submits refused, or ambiguous


@pytest.mark.parametrize(
    "reply, reason, retry_after",
    [
        (kie_error(401, "You do not have access permissions"), "code 401", None),
        (kie_error(402, "Insufficient credits"), "code 402: Insufficient credits", None),
        (
            kie_error(429, "Too many requests", status=429, headers={"Retry-After": "7"}),
            "code 429",
            7.0,
        ),
        (kie_error(422, "imageUrls must be public URLs"), "imageUrls must be public", None),
        (kie_error(400, "Your prompt violates the content policy"), "content policy", None),
        (kie_error(505, "The feature is disabled"), "code 505", None),
    ],
    ids=["401", "402-balance", "429-rate", "422-input", "400-policy", "505"],
)
def test_a_refused_generate_lets_the_next_provider_try(
    alice, tmp_path, kie, reply, reason, retry_after
):
    kie.on_submit(reply)
    provider = providers.for_row(kie.provider_row())
    with pytest.raises(SubmitRefused) as refused:
        provider.start(submit(alice), tmp_path, keep_lease)
    assert reason in str(refused.value)
    assert refused.value.retry_after == retry_after


def test_a_wrong_key_is_refused_though_kie_answers_http_200(alice, tmp_path, kie):
    row = kie.provider_row(credentials={"api_key": "sk-someone-elses"})
    with pytest.raises(SubmitRefused, match="code 401: You do not have access"):
        providers.for_row(row).start(submit(alice), tmp_path, keep_lease)
    assert kie.tasks == {}


@pytest.mark.parametrize(
    "reply",
    [
        kie_error(500, "Internal error"),
        Reply(status=502, body="<html>bad gateway</html>"),
        Reply.json({"code": 200, "msg": "success", "data": {}}),
    ],
    ids=["500-in-a-200", "502", "no-task-id"],
)
def test_a_generate_whose_answer_is_unusable_is_ambiguous_and_not_resent(
    alice, tmp_path, kie, reply
):
    kie.on_submit(reply)
    outcome = providers.for_row(kie.provider_row()).start(submit(alice), tmp_path, keep_lease)
    assert isinstance(outcome, Failed)
    assert outcome.code == "UPSTREAM_AMBIGUOUS"
    assert len(kie.generates) == 1


# The key, the check, cancel


def test_the_api_key_never_appears_in_a_message(alice, tmp_path, kie):
    echoed = f"Invalid key {API_KEY}"
    kie.on_submit(kie_error(401, echoed), kie_error(422, echoed))
    kie.script(kie_error(500, echoed, status=500), kie_error(400, echoed), Record(2, echoed))
    provider = providers.for_row(kie.provider_row())
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


def test_the_connection_check_reads_the_balance_and_refuses_a_wrong_key(kie):
    assert providers.for_row(kie.provider_row()).check() == ("credentials accepted; balance: 738.0")
    wrong = kie.provider_row(name="wrong", credentials={"api_key": "sk-wrong"})
    with pytest.raises(CheckFailed, match="code 401"):
        providers.for_row(wrong).check()


def test_cancel_sends_nothing_kie_has_no_cancel(alice, tmp_path, kie):
    provider = providers.for_row(kie.provider_row())
    generation = started(provider, submit(alice), tmp_path)
    kie.server.clear()
    provider.cancel(generation)
    assert kie.server.requests == []


# The engine


def test_an_expired_result_url_fails_the_generation_and_releases_the_hold(alice, tmp_path, kie):
    kie.script(Record(1, expired=True))
    row = kie.provider_row()
    generation = started(providers.for_row(row), submit(alice), tmp_path)
    Generation.objects.filter(pk=generation.pk).update(
        state=Generation.GENERATING, provider=row, upstream_ref=generation.upstream_ref
    )
    tasks.poll_generation(generation.pk, 0)

    generation.refresh_from_db()
    assert (generation.state, generation.fail_code) == (Generation.FAIL, "UPSTREAM_ERROR")
    assert "could not be stored" in generation.fail_msg
    assert kie.server.requests_to(EXPIRED)
    assert CreditAccount.objects.get(team__members__user=alice).held == Decimal("0.00")


def test_it_makes_a_video_through_the_worker_stores_it_and_charges(worker, alice, kie):
    kie.script(Record(0), Record(1))
    row = kie.provider_row()
    generation = finish(submit(alice))

    assert generation.state == Generation.SUCCESS, generation.fail_msg
    assert (generation.provider_id, generation.upstream_ref) == (row.pk, "veo_task_1")
    assert generation.charged_credits == generation.quoted_credits == Decimal("60.00")
    account = CreditAccount.objects.get(team__members__user=alice)
    assert (account.balance, account.held) == (Decimal("440.00"), Decimal("0.00"))
    with default_storage.open(generation.video.name) as handle, av.open(handle) as container:
        assert container.streams.video[0].codec_context.width == 64
    assert default_storage.exists(generation.poster.name)  # made from the first frame
    assert len(kie.generates) == 1
    assert len(kie.server.requests_to(VIDEO)) == 1
