"""The Google Veo adapter against a loopback Google: the Gemini API (an API key) and
Vertex AI (a service account's OAuth tokens), request shapes, states, failures, secrets."""

import json
from decimal import Decimal

import av
import pytest
from django.core.files.storage import default_storage

from accounts.models import CreditAccount
from playground import outbound, providers, results, services, tasks
from playground.models import Generation, Provider
from playground.providers.base import (
    CheckFailed,
    Failed,
    PollError,
    Running,
    SubmitRefused,
    Succeeded,
)
from playground.providers.google_veo import GoogleVeoProvider
from playground.providers.upstream import HIDDEN_KEY
from tests.contract.fakes import finish, keep_lease, sample_mp4
from tests.contract.google_veo_server import (
    API_KEY,
    BUCKET,
    CLIENT_EMAIL,
    PROJECT,
    REGION,
    Op,
    VeoServer,
    google_error,
    retry_info,
    signing_key,
    verified_claims,
)
from tests.httpservers import Reply

pytestmark = pytest.mark.django_db

MODEL = "google/veo-3-1"
INPUT = {
    "prompt": "A paper boat drifting down a rain gutter",
    "aspect_ratio": "9:16",
    "duration": 8,
}


@pytest.fixture
def google():
    with VeoServer() as server:
        yield server


def adapter(row: Provider) -> GoogleVeoProvider:
    provider = providers.for_row(row)
    assert isinstance(provider, GoogleVeoProvider)
    return provider


def new_generation(user, **input_fields) -> Generation:
    return services.submit(user=user, model=MODEL, input={**INPUT, **input_fields})


def submitted(provider: GoogleVeoProvider, generation: Generation, tmp_path) -> Generation:
    """Submit as the engine does, keeping the reference and the state it would store."""
    outcome = provider.start(generation, tmp_path, keep_lease)
    assert isinstance(outcome, Running), outcome
    generation.upstream_ref, generation.upstream_state = outcome.reference, outcome.state
    return generation


def polls(provider, generation, tmp_path, count: int) -> list:
    return [provider.poll(generation, tmp_path) for _ in range(count)]


# Gemini API: request shapes


def test_it_submits_to_gemini_with_the_key_in_a_header_and_only_gemini_fields(
    alice, tmp_path, google
):
    provider = adapter(google.gemini_row())
    outcome = provider.start(new_generation(alice), tmp_path, keep_lease)

    (submit,) = google.submits
    assert submit.path == "/v1beta/models/veo-3.1-generate-preview:predictLongRunning"
    assert submit.header("x-goog-api-key") == API_KEY
    assert submit.header("Authorization") is None
    assert "key=" not in submit.target
    assert submit.json() == {
        "instances": [{"prompt": INPUT["prompt"]}],
        "parameters": {
            "aspectRatio": "9:16",
            "durationSeconds": 8,
            "resolution": "720p",
            "sampleCount": 1,
        },
    }
    name = "models/veo-3.1-generate-preview/operations/op1x7k"
    assert outcome == Running(name, state={"operation": name})


def test_it_polls_the_operation_until_done_and_hands_over_the_file_uri(alice, tmp_path, google):
    google.script(Op("running"), Op(done=False), Op("success"))
    provider = adapter(google.gemini_row())
    generation = submitted(provider, new_generation(alice), tmp_path)

    first, second, done = polls(provider, generation, tmp_path, 3)

    assert first == second == Running(generation.upstream_ref)
    file_url = google.url + "/v1beta/files/op1x7k:download?alt=media"
    assert done == Succeeded(
        video_url=file_url,
        note=f"upstream task {generation.upstream_ref}",
        download_headers={"x-goog-api-key": API_KEY},
    )
    assert [r.path for r in google.polls] == [f"/v1beta/{generation.upstream_ref}"] * 3
    assert {r.header("x-goog-api-key") for r in google.polls} == {API_KEY}
    assert not any("key=" in r.target for r in google.every_request)


def test_the_result_file_needs_the_key_which_stays_behind_at_the_redirect(alice, tmp_path, google):
    provider = adapter(google.gemini_row())
    generation = submitted(provider, new_generation(alice), tmp_path)
    (outcome,) = polls(provider, generation, tmp_path, 1)

    fields = results.store(generation, outcome, tmp_path)

    with default_storage.open(fields["video"]) as handle:
        assert handle.read() == sample_mp4()
    (download,) = google.server.requests_to("/v1beta/files/op1x7k:download")
    assert download.header("x-goog-api-key") == API_KEY
    (cdn,) = google.cdn.requests
    assert cdn.header("x-goog-api-key") is None
    without_key = Succeeded(video_url=outcome.video_url)
    with pytest.raises(outbound.FetchError, match="403"):
        results.store(generation, without_key, tmp_path)


def test_a_result_uri_on_another_host_gets_no_key(alice, tmp_path, google):
    google.script(Op("success", video_uri="https://files.example/video.mp4"))
    provider = adapter(google.gemini_row())
    generation = submitted(provider, new_generation(alice), tmp_path)
    (outcome,) = polls(provider, generation, tmp_path, 1)
    assert outcome.video_url == "https://files.example/video.mp4"
    assert outcome.download_headers == {}


def test_a_row_maps_the_model_to_another_veo_id(alice, tmp_path):
    with VeoServer(gemini_model="veo-3.1-fast-generate-preview") as google:
        row = google.gemini_row(model_map={MODEL: "veo-3.1-fast-generate-preview"})
        submitted(adapter(row), new_generation(alice), tmp_path)
        (submit,) = google.submits
    assert submit.path == "/v1beta/models/veo-3.1-fast-generate-preview:predictLongRunning"


# What Veo cannot make is refused before anything is sent


@pytest.mark.parametrize(
    "fields, reason",
    [
        ({"aspect_ratio": ratio}, f"16:9 or 9:16 videos, not {ratio}")
        for ratio in ("4:3", "1:1", "3:4", "21:9")
    ],
)
def test_what_veo_cannot_make_is_refused_and_nothing_sent(alice, tmp_path, google, fields, reason):
    provider = adapter(google.gemini_row())
    with pytest.raises(SubmitRefused, match=reason):
        provider.start(new_generation(alice, **fields), tmp_path, keep_lease)
    assert google.server.requests == []


def test_a_duration_veo_does_not_offer_is_made_as_the_next_longer_one(alice, tmp_path, google):
    provider = adapter(google.gemini_row())
    provider.start(new_generation(alice, duration=5), tmp_path, keep_lease)
    (submit,) = google.submits
    assert submit.json()["parameters"]["durationSeconds"] == 6


def test_a_model_it_does_not_make_is_refused_and_nothing_sent(alice, tmp_path, google):
    generation = services.submit(
        user=alice, model="kling/v2-1", input={"prompt": "A lighthouse", "resolution": "480p"}
    )
    with pytest.raises(SubmitRefused, match="does not make kling/v2-1"):
        adapter(google.gemini_row()).start(generation, tmp_path, keep_lease)
    assert google.server.requests == []


# Gemini API: refused, ambiguous, and failed tasks

REFUSALS = [
    pytest.param(
        google_error(400, "INVALID_ARGUMENT", "The prompt is too long."),
        "code 400: INVALID_ARGUMENT: The prompt is too long.",
        None,
        id="bad-input",
    ),
    pytest.param(
        google_error(
            429,
            "RESOURCE_EXHAUSTED",
            "You exceeded your current quota, please check your plan and billing details.",
        ),
        "check your plan and billing",
        None,
        id="out-of-quota",
    ),
    pytest.param(
        google_error(
            404,
            "NOT_FOUND",
            "models/veo-3.1-generate-preview is not found for API version v1beta, "
            "or is not supported for predictLongRunning.",
        ),
        "is not found for API version v1beta",
        None,
        id="model-withdrawn-or-no-billing",
    ),
    pytest.param(
        google_error(429, "RESOURCE_EXHAUSTED", "Rate limit", headers={"Retry-After": "7"}),
        "code 429",
        7.0,
        id="rate-limit-retry-after",
    ),
    pytest.param(
        google_error(429, "RESOURCE_EXHAUSTED", "Rate limit", details=[retry_info("31s")]),
        "Rate limit",
        31.0,
        id="rate-limit-retry-info",
    ),
]


@pytest.mark.parametrize("reply, reason, retry_after", REFUSALS)
def test_a_refused_submit_lets_the_next_provider_try(
    alice, tmp_path, google, reply, reason, retry_after
):
    google.on_submit(reply)
    with pytest.raises(SubmitRefused) as refused:
        adapter(google.gemini_row()).start(new_generation(alice), tmp_path, keep_lease)
    assert reason in str(refused.value)
    assert refused.value.retry_after == retry_after
    assert google.operations == {}


@pytest.mark.parametrize(
    "credentials, reason",
    [({"api_key": "AIzaSy-someone-elses"}, "API key not valid"), ({}, "needs an api_key")],
    ids=["wrong-key", "no-key"],
)
def test_a_wrong_or_missing_key_is_refused(alice, tmp_path, google, credentials, reason):
    with pytest.raises(SubmitRefused, match=reason):
        adapter(google.gemini_row(credentials=credentials)).start(
            new_generation(alice), tmp_path, keep_lease
        )
    assert google.operations == {}


def test_the_gemini_server_requires_the_key_on_every_call(google):
    response = outbound.send("GET", google.url + google.gemini_path(), allow_private=True)
    assert response.status == 403
    assert response.json()["error"]["status"] == "PERMISSION_DENIED"


def test_a_5xx_submit_is_ambiguous_and_not_sent_again(alice, tmp_path, google):
    google.on_submit(google_error(503, "UNAVAILABLE", "The service is currently unavailable."))
    outcome = adapter(google.gemini_row()).start(new_generation(alice), tmp_path, keep_lease)
    assert isinstance(outcome, Failed) and outcome.code == "UPSTREAM_AMBIGUOUS"
    assert "not submitted again" in outcome.message
    assert len(google.submits) == 1


ENDINGS = [
    pytest.param(
        Op("filtered", message="The prompt violates Google's usage guidelines. Code 58061214"),
        Failed("CONTENT_VIOLATION", "The prompt violates Google's usage guidelines. Code 58061214"),
        id="rai-filtered",
    ),
    pytest.param(
        Op("failed", "The input image contains content blocked by your safety settings.", 3),
        Failed(
            "CONTENT_VIOLATION",
            "The input image contains content blocked by your safety settings. (upstream code 3)",
        ),
        id="error-safety",
    ),
    pytest.param(
        Op("failed", "Unable to process the input image.", 3),
        Failed("INVALID_IMAGE_URL", "Unable to process the input image. (upstream code 3)"),
        id="error-image",
    ),
    pytest.param(
        Op("failed", "Video generation failed due to an internal error.", 13),
        Failed(
            "UPSTREAM_ERROR",
            "Video generation failed due to an internal error. (upstream code 13)",
        ),
        id="error-other",
    ),
    pytest.param(
        Op("done-empty"),
        Failed("UPSTREAM_ERROR", "The upstream reported task {ref} done without a video."),
        id="done-without-video",
    ),
]


@pytest.mark.parametrize("api", ["gemini", "vertex"])
@pytest.mark.parametrize("step, expected", ENDINGS)
def test_a_done_operation_without_a_video_fails_with_its_reason(
    alice, tmp_path, google, step, expected, api
):
    google.script(step)
    provider = adapter(google.gemini_row() if api == "gemini" else google.vertex_row())
    generation = submitted(provider, new_generation(alice), tmp_path)
    (outcome,) = polls(provider, generation, tmp_path, 1)
    assert outcome == Failed(expected.code, expected.message.format(ref=generation.upstream_ref))


def test_an_unknown_done_value_is_logged_and_polled_again(alice, tmp_path, google, caplog):
    google.script(Op(done="SOMETIMES"), Op("success"))
    provider = adapter(google.gemini_row())
    generation = submitted(provider, new_generation(alice), tmp_path)
    first, second = polls(provider, generation, tmp_path, 2)
    assert first == Running(generation.upstream_ref)
    assert isinstance(second, Succeeded)
    assert "'SOMETIMES'" in caplog.text


@pytest.mark.parametrize(
    "reply",
    [
        google_error(503, "UNAVAILABLE", "Busy", headers={"Retry-After": "12"}),
        google_error(429, "RESOURCE_EXHAUSTED", "Slow down", details=[retry_info("12s")]),
        google_error(
            400,
            "INVALID_ARGUMENT",
            "API key not valid.",
            details=[
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
            ],
        ),  # fmt: skip
        Reply(body="{", headers={"Content-Type": "application/json"}),
    ],
    ids=["503", "429-retry-info", "key-invalid", "malformed"],
)
def test_a_transient_poll_error_is_asked_again(alice, tmp_path, google, reply):
    google.script(reply, Op("success"))
    provider = adapter(google.gemini_row())
    generation = submitted(provider, new_generation(alice), tmp_path)
    with pytest.raises(PollError) as error:
        provider.poll(generation, tmp_path)
    assert error.value.retry_after in (None, 12.0)
    assert isinstance(provider.poll(generation, tmp_path), Succeeded)


def test_an_operation_the_upstream_does_not_know_is_not_found(alice, tmp_path, google):
    generation = new_generation(alice)
    generation.upstream_ref = google.vertex_path("/operations/gone").removeprefix("/v1/")
    outcome = adapter(google.vertex_row()).poll(generation, tmp_path)
    assert outcome == Failed(
        "UPSTREAM_ERROR",
        f"The upstream has no task {generation.upstream_ref} "
        f"(code 404: NOT_FOUND: Operation {generation.upstream_ref} not found.).",
    )


def test_an_expired_result_file_fails_the_generation_and_releases_the_hold(alice, tmp_path, google):
    row = google.gemini_row()
    generation = submitted(adapter(row), new_generation(alice), tmp_path)
    Generation.objects.filter(pk=generation.pk).update(
        state=Generation.GENERATING, provider=row, upstream_ref=generation.upstream_ref
    )
    google.files_expired = True
    tasks.poll_generation(generation.pk, 0)

    generation.refresh_from_db()
    assert (generation.state, generation.fail_code) == (Generation.FAIL, "UPSTREAM_ERROR")
    assert "could not be stored" in generation.fail_msg and "404" in generation.fail_msg
    assert API_KEY not in generation.fail_msg
    assert CreditAccount.objects.get(team__members__user=alice).held == Decimal("0.00")


def test_the_api_key_never_appears_in_a_message(alice, tmp_path, google):
    echoed = f"Invalid request from key {API_KEY}"
    google.on_submit(google_error(400, "INVALID_ARGUMENT", echoed))
    google.script(
        google_error(500, "INTERNAL", echoed), Op("failed", echoed), Op("filtered", echoed)
    )
    provider = adapter(google.gemini_row())
    generation = new_generation(alice)
    with pytest.raises(SubmitRefused) as refused:
        provider.start(generation, tmp_path, keep_lease)
    submitted(provider, generation, tmp_path)
    with pytest.raises(PollError) as error:
        provider.poll(generation, tmp_path)
    messages = [str(refused.value), str(error.value)]
    messages += [outcome.message for outcome in polls(provider, generation, tmp_path, 2)]

    assert all(API_KEY not in message and HIDDEN_KEY in message for message in messages)


def test_check_reads_the_model_with_the_key(google):
    said = adapter(google.gemini_row()).check()
    assert said.startswith("API key accepted; models/veo-3.1-generate-preview served")
    with pytest.raises(CheckFailed, match="API key not valid"):
        adapter(google.gemini_row(name="wrong", credentials={"api_key": "AIza-nope"})).check()


# Vertex AI: the service account's tokens


def test_it_gets_a_token_with_a_signed_jwt_and_submits_to_vertex(alice, tmp_path, google):
    provider = adapter(google.vertex_row())
    outcome = provider.start(new_generation(alice), tmp_path, keep_lease)

    (grant,) = google.token_requests
    assert grant.header("Content-Type") == "application/x-www-form-urlencoded"
    form = dict(pair.split("=", 1) for pair in grant.text.split("&"))
    assert form["grant_type"] == "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
    claims = verified_claims(form["assertion"])
    assert claims["iss"] == CLIENT_EMAIL
    assert claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"
    (submit,) = google.submits
    assert submit.path == (
        f"/v1/projects/{PROJECT}/locations/{REGION}/publishers/google/models/"
        "veo-3.1-generate-001:predictLongRunning"
    )
    assert submit.header("Authorization") == "Bearer ya29.test-token-1"
    assert submit.header("x-goog-api-key") is None
    assert submit.json() == {
        "instances": [{"prompt": INPUT["prompt"]}],
        "parameters": {
            "aspectRatio": "9:16",
            "durationSeconds": 8,
            "resolution": "720p",
            "sampleCount": 1,
            "generateAudio": True,
        },
    }
    name = submit.path.removeprefix("/v1/").removesuffix(":predictLongRunning")
    name += "/operations/op2x7k"
    assert outcome == Running(name, state={"operation": name})


def test_it_fetches_the_operation_and_writes_an_inline_video(alice, tmp_path, google):
    google.script(Op("running"), Op("success"))
    provider = adapter(google.vertex_row())
    generation = submitted(provider, new_generation(alice), tmp_path)

    running, done = polls(provider, generation, tmp_path, 2)

    assert running == Running(generation.upstream_ref)
    assert isinstance(done, Succeeded)
    assert done.video_path == tmp_path / "veo-result.mp4"
    assert done.video_path.read_bytes() == sample_mp4()
    fetch = google.polls[0]
    assert fetch.method == "POST"
    assert fetch.path == google.vertex_path(":fetchPredictOperation")
    assert fetch.json() == {"operationName": generation.upstream_ref}
    assert fetch.header("Authorization") == "Bearer ya29.test-token-1"
    assert len(google.token_requests) == 1  # the token is reused while it lasts


def test_a_video_in_a_bucket_is_fetched_with_the_token_from_storage(alice, tmp_path, google):
    provider = adapter(google.vertex_row(storage=True))
    generation = submitted(provider, new_generation(alice), tmp_path)
    (outcome,) = polls(provider, generation, tmp_path, 1)

    assert google.submits[0].json()["parameters"]["storageUri"] == f"gs://{BUCKET}/veo"
    assert outcome.video_url == (
        f"{google.storage.url}/storage/v1/b/{BUCKET}/o/veo%2Fop2x7k%2Fsample_0.mp4?alt=media"
    )
    assert outcome.download_headers == {"Authorization": "Bearer ya29.test-token-1"}
    fields = results.store(generation, outcome, tmp_path)
    with default_storage.open(fields["video"]) as handle:
        assert handle.read() == sample_mp4()
    with pytest.raises(outbound.FetchError, match="401"):
        results.store(generation, Succeeded(video_url=outcome.video_url), tmp_path)


def test_an_expiring_token_is_renewed_before_the_next_call(alice, tmp_path, google):
    # google-auth counts a token expired 3 min 45 s early: a 60 s one at once.
    google.token_lifetime = 60
    provider = adapter(google.vertex_row())
    generation = submitted(provider, new_generation(alice), tmp_path)
    polls(provider, generation, tmp_path, 1)

    assert len(google.token_requests) == 2
    assert google.submits[0].header("Authorization") == "Bearer ya29.test-token-1"
    assert google.polls[0].header("Authorization") == "Bearer ya29.test-token-3"


def test_a_revoked_token_is_renewed_and_the_call_made_again(alice, tmp_path, google):
    row = google.vertex_row()
    generation = submitted(adapter(row), new_generation(alice), tmp_path)
    google.revoke_tokens()

    (outcome,) = polls(adapter(row), generation, tmp_path, 1)

    assert isinstance(outcome, Succeeded)
    assert [r.header("Authorization") for r in google.polls] == [
        "Bearer ya29.test-token-1",
        "Bearer ya29.test-token-3",
    ]
    assert len(google.token_requests) == 2


def test_a_service_account_the_token_endpoint_refuses_sends_nothing(alice, tmp_path, google):
    stranger = google.service_account(signing_key("stranger"))
    row = google.vertex_row(credentials={"service_account_json": stranger})
    with pytest.raises(SubmitRefused) as refused:
        adapter(row).start(new_generation(alice), tmp_path, keep_lease)
    assert "no Vertex AI access token (invalid_grant: Invalid JWT Signature.)" in str(refused.value)
    assert google.submits == []


@pytest.mark.parametrize(
    "options, reason",
    [({"project": ""}, "needs options project"), ({"auth": "aws"}, "gemini or vertex")],
)
def test_a_vertex_row_without_its_options_sends_nothing(alice, tmp_path, google, options, reason):
    with pytest.raises(SubmitRefused, match=reason):
        adapter(google.vertex_row(options=options)).start(
            new_generation(alice), tmp_path, keep_lease
        )
    assert google.server.requests == []


def test_vertex_refusals_are_read_from_googles_error_shape(alice, tmp_path, google):
    google.on_submit(
        google_error(
            403,
            "PERMISSION_DENIED",
            "This API method requires billing to be enabled.",
            details=[{"reason": "BILLING_DISABLED"}],
        )
    )
    with pytest.raises(SubmitRefused, match="PERMISSION_DENIED: This API method requires billing"):
        adapter(google.vertex_row()).start(new_generation(alice), tmp_path, keep_lease)


def test_the_vertex_server_requires_the_token(google):
    url = google.url + google.vertex_path(":predictLongRunning")
    response = outbound.send("POST", url, json={}, allow_private=True)
    assert response.status == 401
    assert response.json()["error"]["status"] == "UNAUTHENTICATED"


def test_a_long_vertex_operation_name_is_kept_in_the_state(alice, tmp_path):
    project = "a-very-long-project-name-" + "x" * 40
    with VeoServer(project=project, vertex_model="veo-3.1-generate-001-" + "y" * 50) as google:
        row = google.vertex_row(model_map={MODEL: google.vertex_model})
        provider = adapter(row)
        generation = submitted(provider, new_generation(alice), tmp_path)
        (outcome,) = polls(provider, generation, tmp_path, 1)

    assert len(generation.upstream_state["operation"]) > 200
    assert generation.upstream_ref == generation.upstream_state["operation"].rpartition("/")[2]
    assert isinstance(outcome, Succeeded)


def test_the_token_and_the_private_key_never_appear_in_a_message(alice, tmp_path, google):
    provider = adapter(google.vertex_row())
    generation = submitted(provider, new_generation(alice), tmp_path)
    private_key = json.loads(google.service_account())["private_key"]
    echoed = f"Bad token ya29.test-token-1 for key {private_key}"
    google.script(google_error(500, "INTERNAL", echoed), Op("failed", echoed))
    with pytest.raises(PollError) as error:
        provider.poll(generation, tmp_path)
    (failed,) = polls(provider, generation, tmp_path, 1)

    body_lines = private_key.splitlines()[1:-1]
    for message in (str(error.value), failed.message):
        assert "ya29.test-token-1" not in message and HIDDEN_KEY in message
        assert not any(line in message for line in body_lines)


def test_check_gets_a_token_and_reads_the_publisher_model(google):
    said = adapter(google.vertex_row()).check()
    assert said.startswith("service account token accepted; publishers/google/models/veo-3.1")
    (check,) = google.server.requests_to("/v1/publishers/google/models/veo-3.1-generate-001")
    assert check.header("Authorization") == "Bearer ya29.test-token-1"


# The engine: an inline Vertex video stored through the real poll task


def test_the_poll_task_stores_an_inline_vertex_video(alice, tmp_path, google):
    row = google.vertex_row()
    generation = submitted(adapter(row), new_generation(alice), tmp_path)
    Generation.objects.filter(pk=generation.pk).update(
        state=Generation.GENERATING,
        provider=row,
        upstream_ref=generation.upstream_ref,
        upstream_state=generation.upstream_state,
    )
    tasks.poll_generation(generation.pk, 0)

    generation.refresh_from_db()
    assert generation.state == Generation.SUCCESS, generation.fail_msg
    with default_storage.open(generation.video.name) as handle:
        assert handle.read() == sample_mp4()


# End to end: the real worker, the real queue, the loopback Google


def test_it_makes_a_veo_video_through_gemini_stores_it_and_charges_the_quote(worker, alice):
    with VeoServer() as google:
        google.script(Op("running"), Op("success"))
        row = google.gemini_row()
        generation = services.submit(user=alice, model=MODEL, input=INPUT)
        finish(generation)

    assert generation.state == Generation.SUCCESS, generation.fail_msg
    assert generation.provider_id == row.pk
    assert generation.upstream_ref == "models/veo-3.1-generate-preview/operations/op1x7k"
    assert generation.charged_credits == generation.quoted_credits == Decimal("60.00")
    account = CreditAccount.objects.get(team__members__user=alice)
    assert (account.balance, account.held) == (Decimal("440.00"), Decimal("0.00"))
    with default_storage.open(generation.video.name) as handle, av.open(handle) as container:
        assert container.streams.video[0].codec_context.width == 64
    (download,) = google.server.requests_to("/v1beta/files/op1x7k:download")
    assert download.header("x-goog-api-key") == API_KEY
    assert google.cdn.requests[0].header("x-goog-api-key") is None
    assert not any(API_KEY in r.target for r in google.every_request)
