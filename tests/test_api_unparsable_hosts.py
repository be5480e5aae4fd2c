"""URLs whose host cannot be parsed are that field's validation error, in every form a user sends.

`http://xn--localhost/cb` parses as a URL, but its host is not valid
Punycode: reading it raised idna's InvalidCodepoint from the URL guard,
which answered 500 (and failed an image input with INTERNAL_ERROR).
"""

import json

import pytest

from playground.models import Generation, Upload
from tests.processes import wait_for

INVALID_HOST = "http://xn--localhost/cb"
PROMPT = "A red kite over green hills, wind in the grass"
REASON = "not a valid internationalized domain name"


@pytest.fixture
def post(client, alice_key):
    def send(path: str, body: dict):
        return client.post(
            path,
            json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {alice_key}",
        )

    return send


@pytest.fixture(params=[False, True], ids=["guarded", "private-urls-allowed"])
def private_urls(request, settings):
    """Both ways the guard runs: the host is unparsable whatever the policy."""
    settings.ALLOW_PRIVATE_URLS = request.param
    return request.param


def kie_field_error(response, field: str) -> str:
    assert response.status_code == 422, response.content[:300]
    body = response.json()
    assert body["code"] == 422
    (message,) = body["data"]["errors"][field]
    return message


@pytest.mark.parametrize(
    "url",
    [INVALID_HOST, "https://xn--a.example.com/hook", "http://xn--/cb", "http://xn--zz-.com/cb"],
)
def test_a_callback_url_with_an_invalid_host_is_a_422(post, alice, private_urls, url):
    response = post(
        "/api/v1/jobs/createTask",
        {"model": "kling/v2-1", "callBackUrl": url, "input": {"prompt": PROMPT}},
    )
    assert REASON in kie_field_error(response, "callBackUrl")
    assert not Generation.objects.exists()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/api/v1/video/generations",
            {"model": "kling/v2-1", "prompt": PROMPT, "callback_url": INVALID_HOST},
        ),
        (
            "/api/v1/generateTask/kling/v2-1",
            {"request_type": "callback", "callback_url": INVALID_HOST, "input": {"prompt": PROMPT}},
        ),
    ],
    ids=["video-generations", "generate-task"],
)
def test_the_dialects_callback_url_is_checked_the_same_way(post, alice, private_urls, path, body):
    response = post(path, body)
    assert REASON in kie_field_error(response, "callback_url")
    assert not Generation.objects.exists()


def test_a_file_url_with_an_invalid_host_is_a_422(post, alice, private_urls):
    response = post("/api/file-url-upload", {"fileUrl": "http://xn--localhost/cat.png"})
    assert REASON in kie_field_error(response, "fileUrl")
    assert not Upload.objects.exists()


@pytest.mark.parametrize("field", ["webhook", "webhook_completed"])
def test_a_replicate_webhook_with_an_invalid_host_is_a_422(post, alice, private_urls, field):
    response = post(
        "/v1/models/google/veo-3-1/predictions",
        {"input": {"prompt": PROMPT, "duration": 5}, field: INVALID_HOST},
    )
    assert response.status_code == 422, response.content[:300]
    assert response["Content-Type"] == "application/problem+json"
    (invalid,) = response.json()["invalid_fields"]
    assert invalid["field"] == field and REASON in invalid["description"]
    assert not Generation.objects.exists()


def test_an_image_url_with_an_invalid_host_fails_the_task_with_invalid_image_url(
    worker, post, alice
):
    image_url = "http://xn--localhost/cat.png"
    response = post(
        "/api/v1/jobs/createTask",
        {"model": "kling/v2-1-standard", "input": {"prompt": PROMPT, "image_url": image_url}},
    )
    assert response.status_code == 200, response.content[:300]
    generation = Generation.objects.get(task_id=response.json()["data"]["taskId"])

    def finished():
        generation.refresh_from_db()
        return generation.is_finished

    wait_for(finished, timeout=60, message=f"{generation.task_id} to finish")
    assert (generation.state, generation.fail_code) == (Generation.FAIL, "INVALID_IMAGE_URL")
    assert REASON in generation.fail_msg
    assert generation.charged_credits == 0
