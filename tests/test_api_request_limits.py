"""Requests over Django's size and count limits answer 413 in each contract's own envelope.

A JSON body may be at most DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), a form at
most DATA_UPLOAD_MAX_NUMBER_FIELDS fields and DATA_UPLOAD_MAX_NUMBER_FILES
files. The upload endpoints take files past the memory limit: only the JSON
body and the text fields beside a file count.
"""

import base64
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import CreditAccount
from playground.models import Generation, Upload

MB = 1024 * 1024
PROMPT = "A red kite over green hills, wind in the grass"


def png(size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (210, 40, 40)).save(out, format="PNG")
    return out.getvalue()


def kie(response) -> str:
    """The jobs envelope of a 413: {code, msg, data}; its message."""
    assert response.status_code == 413, response.content[:300]
    body = response.json()
    assert (body["code"], body["data"]) == (413, None)
    return body["msg"]


def openai(response) -> str:
    """OpenAI's {"error": {...}} of a 413; its message."""
    assert response.status_code == 413, response.content[:300]
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert set(error) == {"message", "type", "param", "code"}
    return error["message"]


def replicate(response) -> str:
    """Replicate's problem details of a 413; its detail."""
    assert response.status_code == 413, response.content[:300]
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert (body["status"], body["title"]) == (413, "Request too large")
    return body["detail"]


JSON_ROUTES = [
    ("/api/v1/jobs/createTask", kie),
    ("/api/v1/jobs/cancel", kie),
    ("/api/v1/video/generations", kie),
    ("/api/v1/generateTask/kling/v2-1", kie),
    ("/api/file-url-upload", kie),
    ("/v1/videos", openai),
    ("/v1/models/google/veo-3-1/predictions", replicate),
    ("/v1/predictions", replicate),
]


@pytest.fixture
def auth(alice_key) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {alice_key}"}


def big_json(size: int) -> str:
    """A create request of about `size` bytes, its bulk in the prompt."""
    return json.dumps({"model": "kling/v2-1", "input": {"prompt": "x" * size}})


@pytest.mark.parametrize(("path", "envelope"), JSON_ROUTES, ids=[p for p, _ in JSON_ROUTES])
def test_it_answers_a_json_body_over_the_limit_with_413_in_the_contracts_envelope(
    client, alice, auth, path, envelope
):
    response = client.post(path, big_json(3 * MB), content_type="application/json", **auth)
    message = envelope(response)
    assert "2.5 MB" in message
    assert not Generation.objects.exists()
    assert CreditAccount.objects.get(team__members__user=alice).held == 0


def test_the_413_names_the_configured_limit_and_a_body_under_it_is_read(
    client, alice, auth, settings
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    path = "/api/v1/jobs/createTask"
    over = client.post(path, big_json(70 * 1024), content_type="application/json", **auth)
    assert "at most 64 KB" in kie(over)

    body = json.dumps({"model": "kling/v2-1", "input": {"prompt": PROMPT}, "note": "y" * 60_000})
    under = client.post(path, body, content_type="application/json", **auth)
    assert under.status_code == 200, under.content[:300]


MULTIPART_ROUTES = [
    ("/api/file-stream-upload", "file", kie),
    ("/v1/files", "content", replicate),
    ("/v1/videos", "input_reference", openai),
]
MULTIPART_IDS = [path for path, _, _ in MULTIPART_ROUTES]


@pytest.mark.parametrize(("path", "field", "envelope"), MULTIPART_ROUTES, ids=MULTIPART_IDS)
def test_too_many_form_fields_is_a_413(client, alice, auth, settings, path, field, envelope):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    fields = {f"field{n}": "x" for n in range(6)}
    image = SimpleUploadedFile("cat.png", png(), content_type="image/png")
    response = client.post(path, {field: image, **fields}, **auth)
    assert "at most 5 form fields" in envelope(response)
    assert not Upload.objects.exists() and not Generation.objects.exists()


@pytest.mark.parametrize(("path", "field", "envelope"), MULTIPART_ROUTES, ids=MULTIPART_IDS)
def test_too_many_files_is_a_413(client, alice, auth, settings, path, field, envelope):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    images = [SimpleUploadedFile(f"cat{n}.png", png(), content_type="image/png") for n in range(3)]
    response = client.post(path, {field: images}, **auth)
    assert "at most 2" in envelope(response)
    assert not Upload.objects.exists() and not Generation.objects.exists()


@pytest.mark.parametrize(("path", "field", "envelope"), MULTIPART_ROUTES, ids=MULTIPART_IDS)
def test_form_fields_over_the_memory_limit_are_a_413(client, alice, auth, path, field, envelope):
    image = SimpleUploadedFile("cat.png", png(), content_type="image/png")
    response = client.post(path, {field: image, "prompt": "x" * (3 * MB)}, **auth)
    assert "2.5 MB" in envelope(response)
    assert not Upload.objects.exists() and not Generation.objects.exists()


def test_a_url_encoded_form_over_the_limits_is_a_413(client, alice, auth, settings):
    """The OpenAI contract also takes application/x-www-form-urlencoded."""
    form = "application/x-www-form-urlencoded"
    big = f"model=kling%2Fv2-1&prompt={'x' * (3 * MB)}"
    assert "2.5 MB" in openai(client.post("/v1/videos", big, content_type=form, **auth))
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    many = "&".join(f"field{n}=x" for n in range(6))
    answer = client.post("/v1/videos", many, content_type=form, **auth)
    assert "at most 5 form fields" in openai(answer)


@pytest.mark.parametrize(
    ("path", "envelope"),
    [("/api/v1/jobs/recordInfo", kie), ("/v1/videos", openai), ("/v1/predictions", replicate)],
)
def test_too_many_query_parameters_is_a_413_not_a_500(
    client, alice, auth, settings, path, envelope
):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    query = "&".join(f"p{n}=x" for n in range(6))
    assert "query parameters" in envelope(client.get(f"{path}?{query}", **auth))


def test_uploads_keep_their_own_larger_limits(client, alice, auth):
    image = png() + b"\0" * (3 * MB)  # trailing bytes after IEND: still a PNG by content
    stream = client.post(
        "/api/file-stream-upload",
        {"file": SimpleUploadedFile("cat.png", image, content_type="image/png")},
        **auth,
    )
    assert stream.status_code == 200, stream.content[:300]
    assert stream.json()["data"]["fileSize"] == len(image)

    encoded = base64.b64encode(image).decode()  # a JSON body of about 4 MB
    body = json.dumps({"base64Data": f"data:image/png;base64,{encoded}"})
    inline = client.post("/api/file-base64-upload", body, content_type="application/json", **auth)
    assert inline.status_code == 200, inline.content[:300]
    assert Upload.objects.count() == 2
