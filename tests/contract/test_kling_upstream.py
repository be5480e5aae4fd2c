"""The Kling adapter against a server speaking Kling's legacy API (kling_server.py)."""

import time
from decimal import Decimal

import av
import httpx
import jwt
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
from playground.providers.kling import KlingProvider, bearer_token
from playground.providers.upstream import HIDDEN_KEY
from tests.contract.fakes import finish, keep_lease
from tests.contract.kling_server import (
    ACCESS_KEY,
    API_KEY,
    EXPIRED_PATH,
    SECRET_KEY,
    VIDEO_PATH,
    Created,
    KlingServer,
    Step,
    kling_error,
)
from tests.httpservers import Reply

pytestmark = pytest.mark.django_db
# Adapters wait this long in tests that make an upstream too slow (its
# answer takes 2 s). 0.3 s also timed out the next, prompt answer when the
# machine was busy running the rest of the suite.
SHORT_TIMEOUT = 1.0
PROMPT = "A lighthouse in a storm, waves crashing"
START, END = "https://cdn.example/start.png", "https://cdn.example/end.png"
DANCE = "https://cdn.example/dance.mp4"


def kling(row: Provider) -> KlingProvider:
    provider = providers.for_row(row)
    assert isinstance(provider, KlingProvider)
    return provider


def submit(kling_server: KlingServer, alice, tmp_path, model: str, input: dict, **row_fields):
    """Submit through a row on the server: the provider, the generation as kept, the outcome."""
    provider = kling(kling_server.provider_row(**row_fields))
    generation = services.submit(user=alice, model=model, input=input)
    outcome = provider.start(generation, tmp_path, keep_lease)
    if isinstance(outcome, Running):
        generation.upstream_ref, generation.upstream_state = outcome.reference, outcome.state
    return provider, generation, outcome


# The JWT


def test_it_signs_a_jwt_with_exactly_the_documented_claims():
    now = time.time()
    token = bearer_token("ak-claims", SECRET_KEY, now=now)

    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(token, SECRET_KEY, algorithms=["HS256"], options={"verify_nbf": False})
    assert claims == {"iss": "ak-claims", "exp": int(now) + 1800, "nbf": int(now) - 5}


def test_it_reuses_the_token_until_fewer_than_five_minutes_remain():
    start = 1_900_000_000
    first = bearer_token("ak-renewal", SECRET_KEY, now=start)

    assert bearer_token("ak-renewal", SECRET_KEY, now=start + 1500) == first
    renewed = bearer_token("ak-renewal", SECRET_KEY, now=start + 1501)
    assert renewed != first
    claims = jwt.decode(
        renewed,
        SECRET_KEY,
        algorithms=["HS256"],
        options={"verify_exp": False, "verify_nbf": False},
    )
    assert claims["exp"] == start + 1501 + 1800


def test_it_keeps_a_token_per_key_pair():
    now = 1_900_000_000
    token = bearer_token("ak-one", SECRET_KEY, now=now)

    assert bearer_token("ak-two", SECRET_KEY, now=now) != token
    # A corrected secret key is used at once, not after the old token expires.
    fixed = bearer_token("ak-one", SECRET_KEY + "-rotated", now=now)
    assert jwt.decode(
        fixed, SECRET_KEY + "-rotated", algorithms=["HS256"], options={"verify_nbf": False}
    )


def test_it_sends_the_jwt_and_the_server_verifies_it(alice, tmp_path):
    with KlingServer() as server:
        provider, generation, outcome = submit(
            server, alice, tmp_path, "kling-v3", {"prompt": PROMPT}
        )
        provider.poll(generation)

    assert isinstance(outcome, Running)
    (token,) = set(server.tokens)
    assert {r.header("Authorization") for r in server.queries} == {f"Bearer {token}"}
    assert jwt.decode(token, SECRET_KEY, algorithms=["HS256"])["iss"] == ACCESS_KEY


def test_it_sends_a_plain_api_key_as_the_bearer(alice, tmp_path):
    with KlingServer() as server:
        _, _, outcome = submit(
            server,
            alice,
            tmp_path,
            "kling-v3",
            {"prompt": PROMPT},
            credentials={"api_key": API_KEY},
        )
    assert isinstance(outcome, Running)
    assert server.submits[0].header("Authorization") == f"Bearer {API_KEY}"


@pytest.mark.parametrize(
    "token, code",
    [
        (None, 1001),
        ("not-a-jwt", 1002),
        (
            jwt.encode(
                {"iss": ACCESS_KEY, "exp": 2**40, "nbf": 0}, "another-secret-of-32-bytes-or-more"
            ),
            1002,
        ),
        (jwt.encode({"iss": "someone", "exp": 2**40, "nbf": 0}, SECRET_KEY), 1002),
        (jwt.encode({"iss": ACCESS_KEY, "exp": 1000, "nbf": 0}, SECRET_KEY), 1004),
        (jwt.encode({"iss": ACCESS_KEY, "exp": 2**40, "nbf": 2**39}, SECRET_KEY), 1003),
    ],
    ids=["none", "garbage", "wrong-secret", "wrong-issuer", "expired", "not-yet-valid"],
)
def test_the_server_refuses_a_token_kling_would_refuse(token, code):
    with KlingServer() as server:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = httpx.post(server.url + "/v1/videos/text2video", json={}, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["code"] == code


def test_a_wrong_secret_key_is_refused_with_klings_words(alice, tmp_path):
    wrong = {"access_key": ACCESS_KEY, "secret_key": "a-wrong-secret-of-thirty-two-bytes"}
    with KlingServer() as server:
        with pytest.raises(SubmitRefused) as refused:
            submit(server, alice, tmp_path, "kling-v3", {"prompt": PROMPT}, credentials=wrong)
    assert "code 401: Authorization is invalid (Kling code 1002)" in str(refused.value)
    assert server.tasks == {}


@pytest.mark.parametrize("credentials", [{}, {"access_key": ACCESS_KEY}], ids=["none", "no-secret"])
def test_it_names_the_credentials_to_set_and_sends_nothing(alice, tmp_path, credentials):
    with KlingServer() as server:
        with pytest.raises(SubmitRefused, match="set access_key and secret_key \\(or api_key\\)"):
            submit(server, alice, tmp_path, "kling-v3", {"prompt": PROMPT}, credentials=credentials)
        with pytest.raises(CheckFailed, match="access_key and secret_key"):
            kling(Provider.objects.get(name="kling")).check()
    assert server.server.requests == []


# The request shapes, per catalog model

SHAPES = [
    pytest.param(
        "kling/v2-1",
        {"prompt": PROMPT, "aspect_ratio": "9:16", "duration": 10},
        "text2video",
        {
            "model_name": "kling-v2-1-master",
            "prompt": PROMPT,
            "duration": "10",
            "aspect_ratio": "9:16",
        },
        id="kling/v2-1",
    ),
    pytest.param(
        "kling/v2-1-standard",
        {"prompt": PROMPT, "image_url": START, "negative_prompt": "blur", "cfg_scale": 0.7},
        "image2video",
        # Kling's docs: "kling-v2.x models do not support" cfg_scale.
        {
            "model_name": "kling-v2-1",
            "prompt": PROMPT,
            "negative_prompt": "blur",
            "mode": "std",
            "duration": "5",
            "image": START,
        },
        id="kling/v2-1-standard",
    ),
    pytest.param(
        "kling-2-1",
        {"mode": "standard-image-to-video", "prompt": PROMPT, "image_urls": [START]},
        "image2video",
        {
            "model_name": "kling-v2-1",
            "prompt": PROMPT,
            "mode": "std",
            "duration": "5",
            "image": START,
        },
        id="kling-2-1-standard",
    ),
    pytest.param(
        "kling-2-1",
        {
            "mode": "pro-image-to-video",
            "prompt": PROMPT,
            "image_urls": [START, END],
            "duration": "10",
        },
        "image2video",
        {
            "model_name": "kling-v2-1",
            "prompt": PROMPT,
            "mode": "pro",
            "duration": "10",
            "image": START,
            "image_tail": END,
        },
        id="kling-2-1-pro-end-frame",
    ),
    pytest.param(
        "kling-2-1",
        {"mode": "master-text-to-video", "prompt": PROMPT, "negative_prompt": "cartoon"},
        "text2video",
        {
            "model_name": "kling-v2-1-master",
            "prompt": PROMPT,
            "negative_prompt": "cartoon",
            "duration": "5",
        },
        id="kling-2-1-master-text",
    ),
    pytest.param(
        "kling-2-1",
        {"mode": "master-image-to-video", "prompt": PROMPT, "image_urls": [START]},
        "image2video",
        {"model_name": "kling-v2-1-master", "prompt": PROMPT, "duration": "5", "image": START},
        id="kling-2-1-master-image",
    ),
    pytest.param(
        "kling-v2-6",
        {"prompt": PROMPT, "aspect_ratio": "1:1"},
        "text2video",
        {
            "model_name": "kling-v2-6",
            "prompt": PROMPT,
            "mode": "std",
            "duration": "5",
            "aspect_ratio": "1:1",
            "sound": "off",
        },
        id="kling-v2-6-text",
    ),
    pytest.param(
        "kling-v2-6",
        {"image": START, "mode": "pro", "duration": "10", "sound": True},
        "image2video",
        # No aspect_ratio: image2video has none (the image decides).
        {
            "model_name": "kling-v2-6",
            "mode": "pro",
            "duration": "10",
            "image": START,
            "sound": "on",
        },
        id="kling-v2-6-image-sound",
    ),
    pytest.param(
        "kling-v3",
        {"prompt": PROMPT, "mode": "pro", "duration": 8, "aspect_ratio": "9:16", "sound": True},
        "text2video",
        {
            "model_name": "kling-v3",
            "prompt": PROMPT,
            "mode": "pro",
            "duration": "8",
            "aspect_ratio": "9:16",
            "sound": "on",
        },
        id="kling-v3-text",
    ),
    pytest.param(
        "kling-v3",
        {"prompt": PROMPT, "image": START, "duration": 15},
        "image2video",
        {
            "model_name": "kling-v3",
            "prompt": PROMPT,
            "mode": "std",
            "duration": "15",
            "image": START,
            "sound": "off",
        },
        id="kling-v3-image",
    ),
    pytest.param(
        "kling-motion-control",
        {"prompt": "Dances in a studio", "image": START, "motion_video": DANCE, "duration": 10},
        "motion-control",
        {
            "model_name": "kling-v2-6",
            "prompt": "Dances in a studio",
            "image_url": START,
            "video_url": DANCE,
            "mode": "std",
            "character_orientation": "image",
            "keep_original_sound": "no",
        },
        id="motion-control-2.6-720p",
    ),
    pytest.param(
        "kling-motion-control",
        {
            "image": START,
            "motion_video": DANCE,
            "duration": 25,
            "version": "3.0",
            "resolution": "1080p",
        },
        "motion-control",
        # Over 10 s the character must follow the video's orientation (Kling allows 30 s then).
        {
            "model_name": "kling-v3",
            "image_url": START,
            "video_url": DANCE,
            "mode": "pro",
            "character_orientation": "video",
            "keep_original_sound": "no",
        },
        id="motion-control-3.0-1080p",
    ),
]


@pytest.mark.parametrize("model, input, endpoint, body", SHAPES)
def test_it_sends_each_model_to_its_endpoint_with_klings_fields(
    alice, tmp_path, model, input, endpoint, body
):
    with KlingServer() as server:
        provider, generation, outcome = submit(server, alice, tmp_path, model, input)
        polled = provider.poll(generation)

    (request,) = server.submits
    assert request.path == f"/v1/videos/{endpoint}"
    assert request.json() == {**body, "external_task_id": generation.task_id}
    (task,) = server.tasks.values()
    assert outcome == Running(task.task_id, state={"endpoint": endpoint})
    (poll,) = [r for r in server.queries if r.method == "GET"]
    assert poll.path == f"/v1/videos/{endpoint}/{task.task_id}"
    assert isinstance(polled, Succeeded)


def test_an_admin_may_map_a_model_to_another_kling_model_name(alice, tmp_path):
    with KlingServer() as server:
        submit(
            server,
            alice,
            tmp_path,
            "kling-v2-6",
            {"prompt": PROMPT},
            model_map={"kling-v2-6": "kling-v2-5-turbo"},
        )
    body = server.submits[0].json()
    assert (body["model_name"], "sound" in body) == ("kling-v2-5-turbo", False)


REFUSED_BEFORE_SENDING = [
    pytest.param(
        "kling/v2-1",
        {"prompt": PROMPT, "generate_audio": True},
        "makes no sound",
        id="audio-on-2.1",
    ),
    pytest.param("kling/v2-1", {"prompt": PROMPT, "aspect_ratio": "21:9"}, "not 21:9", id="21:9"),
    pytest.param(
        "kling-v2-6",
        {"prompt": PROMPT, "mode": "pro", "sound": True, "voice": True},
        "needs a voice id",
        id="voice",
    ),
    pytest.param("google/veo-3-1", {"prompt": PROMPT}, "does not offer google/veo-3-1", id="veo"),
]


@pytest.mark.parametrize("model, input, reason", REFUSED_BEFORE_SENDING)
def test_it_refuses_what_kling_cannot_make_without_sending_it(
    alice, tmp_path, model, input, reason
):
    with KlingServer() as server:
        with pytest.raises(SubmitRefused, match=reason) as refused:
            submit(server, alice, tmp_path, model, input)
    assert "nothing was sent" in str(refused.value)
    assert server.server.requests == []


# Statuses


def test_it_polls_through_every_status_word_to_the_video(alice, tmp_path, caplog):
    with KlingServer() as server:
        server.script(
            Step("submitted"), Step("processing"), Step("queueing"), Step("succeed", units="5")
        )
        provider, generation, _ = submit(server, alice, tmp_path, "kling-v3", {"prompt": PROMPT})
        outcomes = [provider.poll(generation) for _ in range(4)]

    reference = generation.upstream_ref
    assert outcomes[:3] == [Running(reference)] * 3
    assert "'queueing'" in caplog.text  # an unknown word is logged and polled again
    # Units of a resource pack are not money: no cost_usd; Kling's CDN wants no key.
    assert outcomes[3] == Succeeded(
        video_url=server.url + VIDEO_PATH, note=f"upstream task {reference}"
    )


ENDINGS = [
    pytest.param(
        Step("failed", "Failure to pass the risk control system"),
        Failed("CONTENT_VIOLATION", "Failure to pass the risk control system"),
        id="risk-control",
    ),
    pytest.param(
        Step("failed", "The prompt contains sensitive words"),
        Failed("CONTENT_VIOLATION", "The prompt contains sensitive words"),
        id="sensitive",
    ),
    pytest.param(
        Step("failed", "Image recognition failed: the image cannot be downloaded"),
        Failed("INVALID_IMAGE_URL", "Image recognition failed: the image cannot be downloaded"),
        id="image",
    ),
    pytest.param(
        Step("failed", "Generation timed out"),
        Failed("UPSTREAM_ERROR", "Generation timed out"),
        id="other",
    ),
    pytest.param(
        Step("failed"),
        Failed("UPSTREAM_ERROR", "The upstream reported the generation failed without a reason."),
        id="no-reason",
    ),
    pytest.param(
        Step("succeed", videos=[]),
        Failed(
            "UPSTREAM_ERROR", "The upstream reported task {ref} done but gave no usable result URL."
        ),
        id="succeed-without-video",
    ),
    pytest.param(
        Step("succeed", videos=["ftp://cdn.example/a.mp4"]),
        Failed(
            "UPSTREAM_ERROR", "The upstream reported task {ref} done but gave no usable result URL."
        ),
        id="succeed-with-an-unusable-url",
    ),
    pytest.param(
        kling_error(1203, "task not found"),
        Failed(
            "UPSTREAM_ERROR",
            "The upstream has no task {ref} (code 404: task not found (Kling code 1203)).",
        ),
        id="404",
    ),
    pytest.param(
        kling_error(1201, "task_id is invalid", status=200),
        Failed(
            "UPSTREAM_ERROR",
            "The upstream answered code 400: task_id is invalid (Kling code 1201) for task {ref}.",
        ),
        id="1201-in-a-200",
    ),
]


@pytest.mark.parametrize("step, expected", ENDINGS)
def test_an_ending_answer_fails_with_its_reason_and_code(alice, tmp_path, step, expected):
    with KlingServer() as server:
        server.script(step)
        provider, generation, _ = submit(
            server, alice, tmp_path, "kling-v3", {"prompt": PROMPT, "image": START}
        )
        outcome = provider.poll(generation)
    assert outcome == Failed(expected.code, expected.message.format(ref=generation.upstream_ref))


TRANSIENT = [
    pytest.param(kling_error(1303, headers={"Retry-After": "9"}), 9.0, id="429-parallel-limit"),
    pytest.param(kling_error(1004), None, id="401-expired"),
    pytest.param(kling_error(5000), None, id="500"),
    pytest.param(kling_error(5001, status=200), None, id="5001-in-a-200"),
    pytest.param(Reply.json({"code": 0, "data": None}), None, id="no-data"),
    pytest.param(Reply.json({"code": 0, "data": {"task_id": "x"}}), None, id="no-status"),
    pytest.param(Reply(delay=2), None, id="timeout"),
]


@pytest.mark.parametrize("reply, retry_after", TRANSIENT)
def test_a_transient_poll_error_is_asked_again(alice, tmp_path, reply, retry_after):
    with KlingServer() as server:
        server.script(reply, Step("succeed"))
        provider, generation, _ = submit(server, alice, tmp_path, "kling-v3", {"prompt": PROMPT})
        provider.timeout = SHORT_TIMEOUT
        with pytest.raises(PollError) as error:
            provider.poll(generation)
        outcome = provider.poll(generation)
    assert error.value.retry_after == retry_after
    assert isinstance(outcome, Succeeded)


def test_a_task_kling_never_made_is_not_found(alice):
    with KlingServer() as server:
        provider = kling(server.provider_row())
        generation = services.submit(user=alice, model="kling-v3", input={"prompt": PROMPT})
        generation.upstream_ref, generation.upstream_state = (
            "780000000000000999",
            {"endpoint": "text2video"},
        )
        outcome = provider.poll(generation)
    assert outcome.code == "UPSTREAM_ERROR"
    assert "no task 780000000000000999" in outcome.message


# Refused submits: nothing made, the next provider may try

REFUSALS = [
    pytest.param(
        kling_error(1102), "out of balance (its resource packs are used up", None, id="1102"
    ),
    pytest.param(kling_error(1101), "out of balance (in arrears)", None, id="1101"),
    pytest.param(kling_error(1102, status=200), "out of balance", None, id="1102-in-a-200"),
    pytest.param(
        kling_error(1303, headers={"Retry-After": "7"}),
        "parallel task limit",
        7.0,
        id="1303-retry-after",
    ),
    # Kling asks for a back-off of at least 1 s when it names no pace.
    pytest.param(kling_error(1303), "parallel task over resource pack limit", 1.0, id="1303"),
    pytest.param(kling_error(1302), "rate limit", 1.0, id="1302"),
    pytest.param(
        kling_error(1301, "Prompt contains sensitive content"),
        "content safety policy blocked the input: the upstream refused the task "
        "(code 400: Prompt contains sensitive content (Kling code 1301))",
        None,
        id="1301-content-safety",
    ),
    pytest.param(kling_error(1201, "duration is invalid"), "duration is invalid", None, id="1201"),
    pytest.param(
        kling_error(1201, "image_url format is not supported"),
        "could not use an input image",
        None,
        id="1201-image",
    ),
    pytest.param(kling_error(1103), "may not use this model", None, id="1103"),
]


@pytest.mark.parametrize("reply, reason, retry_after", REFUSALS)
def test_a_refused_submit_says_why_and_made_nothing(alice, tmp_path, reply, reason, retry_after):
    with KlingServer() as server:
        server.on_submit(reply)
        with pytest.raises(SubmitRefused) as refused:
            submit(server, alice, tmp_path, "kling-v3", {"prompt": PROMPT})
    assert reason in str(refused.value)
    assert refused.value.retry_after == retry_after
    assert server.tasks == {}


def test_the_server_refuses_a_field_or_value_kling_does_not_take(alice, tmp_path):
    # What the adapter never sends, proved refused so the shape tests mean something.
    with KlingServer() as server:
        for body, problem in [
            ({"model_name": "kling-v2-1", "prompt": PROMPT}, "not supported by text2video"),
            (
                {"model_name": "kling-v3", "prompt": PROMPT, "image": START},
                "image: not a parameter",
            ),
            ({"model_name": "kling-v3", "prompt": PROMPT, "duration": 5}, "duration 5 is invalid"),
            ({"model_name": "kling-v2-1-master", "prompt": PROMPT, "mode": "pro"}, "mode"),
        ]:
            answer = httpx.post(
                server.url + "/v1/videos/text2video",
                json=body,
                headers={"Authorization": f"Bearer {API_KEY}"},
            )
            assert (answer.status_code, answer.json()["code"]) == (400, 1201)
            assert problem in answer.json()["message"]


# Ambiguous submits: found again by our own id, never sent twice


@pytest.mark.parametrize(
    "reply",
    [
        Created(kling_error(5000)),
        Created(Reply(abort=True)),
        Created(kling_error(5002, status=200)),
    ],
    ids=["500", "answer-lost", "5002-in-a-200"],
)
def test_a_task_made_behind_an_ambiguous_answer_is_found_by_our_id(alice, tmp_path, reply):
    with KlingServer() as server:
        server.on_submit(reply)
        provider, generation, outcome = submit(
            server, alice, tmp_path, "kling-v2-6", {"image": START}
        )
        polled = provider.poll(generation)

    (task,) = server.tasks.values()
    assert outcome == Running(task.task_id, state={"endpoint": "image2video"})
    lookup, poll = [r for r in server.server.requests if r.method == "GET"]
    assert lookup.path == f"/v1/videos/image2video/{generation.task_id}"
    assert poll.path == f"/v1/videos/image2video/{task.task_id}"
    assert isinstance(polled, Succeeded)
    assert len(server.submits) == 1


def test_a_5xx_submit_kling_has_no_task_for_lets_the_next_provider_try(alice, tmp_path):
    with KlingServer() as server:
        server.on_submit(kling_error(5000))
        provider = kling(server.provider_row())
        generation = services.submit(user=alice, model="kling-v3", input={"prompt": PROMPT})
        with pytest.raises(SubmitRefused) as refused:
            provider.start(generation, tmp_path, keep_lease)

    # The 5xx was a whole answer and the lookup by our id finds nothing: nothing was made.
    assert "code 500: Server internal error (Kling code 5000)" in str(refused.value)
    assert f"no task under our id {generation.task_id}" in str(refused.value)
    assert len(server.submits) == 1


def test_a_lost_answer_kling_has_no_task_for_stays_ambiguous(alice, tmp_path):
    with KlingServer() as server:
        server.on_submit(Reply(abort=True))
        _, generation, outcome = submit(server, alice, tmp_path, "kling-v3", {"prompt": PROMPT})

    # Without an answer the task may still be on its way in: never sent again.
    assert outcome.code == "UPSTREAM_AMBIGUOUS"
    assert "not submitted again" in outcome.message
    assert len(server.submits) == 1


# Credentials never in a message


def test_no_credential_or_token_ever_appears_in_a_message(alice, tmp_path):
    with KlingServer() as server:
        provider = kling(server.provider_row())
        token = provider.token()
        generation = services.submit(user=alice, model="kling-v3", input={"prompt": PROMPT})
        server.on_submit(kling_error(1201, f"bad Bearer {token} {SECRET_KEY}"))
        messages = []
        with pytest.raises(SubmitRefused) as refused:
            provider.start(generation, tmp_path, keep_lease)
        messages.append(str(refused.value))
        outcome = provider.start(generation, tmp_path, keep_lease)
        generation.upstream_ref, generation.upstream_state = outcome.reference, outcome.state
        server.script(
            kling_error(1004, f"expired: {token}"),
            kling_error(1201, f"{ACCESS_KEY} {SECRET_KEY}"),
            Step("failed", f"risk control for {token}"),
        )
        with pytest.raises(PollError) as error:
            provider.poll(generation)
        messages += [str(error.value), provider.poll(generation).message]
        messages.append(provider.poll(generation).message)

    secrets = [token, ACCESS_KEY, SECRET_KEY]
    assert all(s not in m for s in secrets for m in messages), messages
    assert all(HIDDEN_KEY in m for m in messages)
    assert len(messages) == 4


# The connection test, regions, cancel, the registry


def test_the_check_reads_the_resource_packs_with_a_time_window_in_milliseconds():
    with KlingServer() as server:
        said = kling(server.provider_row()).check()
    (request,) = server.server.requests
    assert request.path == "/account/costs"
    start, end = int(request.query["start_time"][0]), int(request.query["end_time"][0])
    assert abs(end - time.time() * 1000) < 60_000
    assert end - start == 30 * 86_400_000
    assert said == (
        "credentials accepted; resource packs online: "
        "Video Generation - 10,000 entries: 118.0 of 200.0 left"
    )


def test_the_check_fails_with_klings_words_on_wrong_credentials():
    with KlingServer() as server:
        row = server.provider_row(credentials={"api_key": "api-key-kling-someone-elses"})
        worked, said = providers.check(row)
    assert not worked
    assert "code 401: Authorization is invalid (Kling code 1002)" in said
    assert "someone-elses" not in said


def test_the_base_url_defaults_to_the_singapore_region_and_is_set_per_row():
    default = Provider.objects.create(name="kling sg", kind=Provider.KLING)
    china = Provider.objects.create(
        name="kling cn", kind=Provider.KLING, base_url="https://api-beijing.klingai.com"
    )
    assert kling(default).base_url == "https://api-singapore.klingai.com"
    assert kling(china).base_url == "https://api-beijing.klingai.com"
    assert kling(default).asynchronous is True


def test_cancel_sends_nothing_kling_has_no_cancel_call(alice, tmp_path):
    with KlingServer() as server:
        provider, generation, _ = submit(server, alice, tmp_path, "kling-v3", {"prompt": PROMPT})
        server.server.clear()
        provider.cancel(generation)
    assert server.server.requests == []


# The engine acting on outcomes


def test_an_expired_result_url_fails_the_generation_and_charges_nothing(alice, tmp_path):
    with KlingServer() as server:
        server.script(Step("succeed", videos=[server.url + EXPIRED_PATH]))
        provider, generation, _ = submit(server, alice, tmp_path, "kling-v3", {"prompt": PROMPT})
        Generation.objects.filter(pk=generation.pk).update(
            state=Generation.GENERATING,
            provider=provider.row,
            upstream_ref=generation.upstream_ref,
            upstream_state=generation.upstream_state,
        )
        tasks.poll_generation(generation.pk, 0)

    generation.refresh_from_db()
    assert (generation.state, generation.fail_code) == (Generation.FAIL, "UPSTREAM_ERROR")
    assert "could not be stored" in generation.fail_msg
    assert CreditAccount.objects.get(team__members__user=alice).held == Decimal("0.00")


def test_it_makes_a_video_through_the_worker_stores_it_and_charges_the_quote(worker, alice):
    with KlingServer() as server:
        server.script(Step("submitted"), Step("processing"), Step("succeed", units="4"))
        row = server.provider_row(costs={"kling-v2-6": "0.0531"})
        input = {"prompt": PROMPT, "image": START, "mode": "pro", "sound": True}
        generation = services.submit(user=alice, model="kling-v2-6", input=input)
        finish(generation)

    assert generation.state == Generation.SUCCESS, generation.fail_msg
    (task,) = server.tasks.values()
    assert (generation.provider_id, generation.upstream_ref) == (row.pk, task.task_id)
    assert task.body["external_task_id"] == generation.task_id
    assert generation.charged_credits == generation.quoted_credits > 0
    account = CreditAccount.objects.get(team__members__user=alice)
    assert (account.balance, account.held) == (
        Decimal("500.00") - generation.quoted_credits,
        Decimal("0.00"),
    )
    # What the row says a generation costs: Kling's units are not dollars.
    assert generation.upstream_cost_usd == Decimal("0.0531")
    with default_storage.open(generation.video.name) as handle, av.open(handle) as container:
        assert container.streams.video[0].codec_context.width == 64
    (download,) = server.server.requests_to(VIDEO_PATH)
    assert download.header("Authorization") is None
    assert len(server.submits) == 1
