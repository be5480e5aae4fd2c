"""Replicate's files API: the official `replicate` client against the live server,
and the errors over HTTP.

The client uploads a local file given as a model input to /v1/files and sends
the answer's urls["get"] instead, so these tests follow a file from upload to
a prediction's stored input, and one through to the rendered video.
"""

import hashlib
import io
import json
from datetime import datetime, timedelta
from pathlib import Path

import av
import httpx
import numpy as np
import pytest
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from replicate.exceptions import ReplicateError

from accounts import apikeys
from playground import uploads
from playground.api.openapi import document
from playground.contracts import replicate as replicate_predictions
from playground.models import Generation, Upload
from tests.test_api_replicate import sdk

FILES = "/v1/files"
HTML = b"<!doctype html><html><body>not a picture</body></html>"


def png(color=(210, 40, 40), size=(320, 240)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def replicate_client(live_server, transactional_db, alice_key):
    return sdk(live_server, alice_key)


@pytest.fixture
def start_png(tmp_path) -> Path:
    path = tmp_path / "start.png"
    path.write_bytes(png())
    return path


def moment(text: str) -> datetime:
    assert text.endswith("Z")
    return datetime.fromisoformat(text.removesuffix("Z") + "+00:00")


def stored_files() -> set[str]:
    root = Path(django_settings.MEDIA_ROOT) / "uploads"
    return {str(path) for path in root.rglob("*") if path.is_file()} if root.exists() else set()


# -- the real client against the live server ------------------------------------


def test_create_returns_a_file_whose_url_serves_the_same_bytes(
    replicate_client, live_server, alice, start_png
):
    content = start_png.read_bytes()

    with start_png.open("rb") as handle:
        created = replicate_client.files.create(handle, metadata={"scene": "intro", "take": 2})

    assert (created.name, created.content_type, created.size) == (
        "start.png",
        "image/png",
        len(content),
    )
    assert created.checksums == {
        "sha256": hashlib.sha256(content).hexdigest(),
        "md5": hashlib.md5(content).hexdigest(),
    }
    assert created.etag == created.checksums["md5"]
    assert created.metadata == {"scene": "intro", "take": 2}
    retention = timedelta(hours=django_settings.UPLOAD_RETENTION_HOURS)
    assert moment(created.expires_at) - moment(created.created_at) == retention
    url = created.urls["get"]
    assert url.startswith(f"{live_server.url}/media/uploads/") and url.endswith(".png")
    assert httpx.get(url).content == content
    upload = Upload.objects.get(file_id=created.id)
    assert (upload.owner, upload.used_at) == (alice, None)


def test_the_client_gets_lists_and_deletes_files(replicate_client, start_png):
    first = replicate_client.files.create(start_png)  # a Path: the client opens it
    second = replicate_client.files.create(io.BytesIO(png((20, 90, 200))))

    fetched = replicate_client.files.get(first.id)
    assert fetched.dict() == first.dict()
    assert second.name == "file"  # the client's name for a stream without one
    assert [f.id for f in replicate_client.files.list()] == [second.id, first.id]

    storage_name = Upload.objects.get(file_id=first.id).storage_name
    assert replicate_client.files.delete(first.id) is True

    assert not default_storage.exists(storage_name)
    assert httpx.get(first.urls["get"]).status_code == 404
    with pytest.raises(ReplicateError) as raised:
        replicate_client.files.get(first.id)
    assert (raised.value.status, raised.value.title) == (404, "Not found")
    with pytest.raises(ReplicateError) as raised:
        replicate_client.files.delete(first.id)
    assert raised.value.status == 404
    assert [f.id for f in replicate_client.files.list()] == [second.id]


def test_a_file_handle_as_input_becomes_the_uploaded_url(replicate_client, start_png):
    with start_png.open("rb") as image:
        prediction = replicate_client.models.predictions.create(
            model="kling/v2-1-standard",
            input={"prompt": "the red wall slowly comes alive", "image_url": image},
        )

    upload = Upload.objects.get()
    (listed,) = replicate_client.files.list()
    assert listed.id == upload.file_id
    url = listed.urls["get"]
    generation = Generation.objects.get(task_id=prediction.id)
    assert generation.input["image_url"] == prediction.input["image_url"] == url
    assert prediction.status == "starting"
    # Used by a generation, the file is kept past its expires_at.
    assert upload.used_at is not None


def test_paths_in_a_list_input_are_uploaded_one_by_one(replicate_client, tmp_path):
    # kwaivgi/kling-v2.1 is the catalog's kling-2-1, whose images are a list.
    start, end = tmp_path / "start.png", tmp_path / "end.png"
    start.write_bytes(png((200, 30, 30)))
    end.write_bytes(png((30, 30, 200)))

    prediction = replicate_client.predictions.create(
        model="kwaivgi/kling-v2.1",
        input={
            "mode": "pro-image-to-video",
            "prompt": "the wall turns from red to blue",
            "image_urls": [start, end],
        },
    )

    by_name = {f.name: f.urls["get"] for f in replicate_client.files.list()}
    assert prediction.input["image_urls"] == [by_name["start.png"], by_name["end.png"]]
    generation = Generation.objects.get(task_id=prediction.id)
    assert generation.model_id == "kling-2-1"
    assert not Upload.objects.filter(used_at__isnull=True).exists()


def test_an_uploaded_start_image_drives_the_rendered_video(replicate_client, worker, start_png):
    with start_png.open("rb") as image:
        output = replicate_client.run(
            "kling/v2-1-standard",
            input={"prompt": "the red wall slowly comes alive", "image_url": image},
        )

    generation = Generation.objects.get()
    assert generation.state == Generation.SUCCESS, generation.fail_msg
    assert str(output).endswith(".mp4")
    with default_storage.open(generation.video.name) as handle, av.open(handle) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    h, w = first.shape[:2]
    centre = first[int(h * 0.3) : int(h * 0.65), int(w * 0.25) : int(w * 0.75)]
    assert np.abs(centre.reshape(-1, 3).mean(0) - (210, 40, 40)).max() < 12


def test_another_team_cannot_get_or_delete_a_file(
    live_server, replicate_client, alice, bob, carol, start_png
):
    created = replicate_client.files.create(start_png)
    _, carols_key = apikeys.issue(carol, "carol's key")
    _, bobs_key = apikeys.issue(bob, "bob's key")
    outsider, teammate = sdk(live_server, carols_key), sdk(live_server, bobs_key)

    for call in (outsider.files.get, outsider.files.delete):
        with pytest.raises(ReplicateError) as raised:
            call(created.id)
        assert (raised.value.status, raised.value.title) == (404, "Not found")
        assert created.id in raised.value.detail
    assert outsider.files.list() == []
    assert Upload.objects.filter(file_id=created.id).exists()
    assert teammate.files.get(created.id).id == created.id
    assert [f.id for f in teammate.files.list()] == [created.id]


def test_the_list_pages_by_cursor(live_server, transactional_db, alice, bob, carol, monkeypatch):
    monkeypatch.setattr(replicate_predictions, "PAGE_SIZE", 2)
    source = io.BytesIO(png())
    made = [uploads.store_upload(owner, source) for owner in (alice, alice, bob)]
    uploads.store_upload(carol, source)  # another team's
    newest_first = [upload.file_id for upload in reversed(made)]
    _, key = apikeys.issue(alice, "paging")

    def page(url: str) -> dict:
        response = httpx.get(url, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200, response.text
        return response.json()

    first = page(f"{live_server.url}{FILES}")
    assert [f["id"] for f in first["results"]] == newest_first[:2]
    assert first["previous"] is None
    second = page(first["next"])
    assert [f["id"] for f in second["results"]] == newest_first[2:]
    assert second["next"] is None
    assert [f["id"] for f in page(second["previous"])["results"]] == newest_first[:2]


# -- errors over HTTP -------------------------------------------------------------


@pytest.fixture
def api(client, alice_key):
    """The Django test client with alice's key."""

    class Api:
        auth = {"HTTP_AUTHORIZATION": f"Bearer {alice_key}"}

        def upload(self, data: bytes | None, name="cat.png", **fields):
            """POST a multipart body: `data` as the `content` file, `fields` as text."""
            if data is not None:
                fields["content"] = SimpleUploadedFile(name, data, content_type="image/png")
            return client.post(FILES, fields, **self.auth)

        def get(self, path, **extra):
            return client.get(path, **self.auth, **extra)

        def delete(self, path):
            return client.delete(path, **self.auth)

    return Api()


def problem(response, status: int) -> dict:
    """The Replicate problem body of an error answer, checked for its shape."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def refused_field(response) -> tuple[str, str]:
    body = problem(response, 422)
    (invalid,) = body["invalid_fields"]
    return invalid["field"], invalid["description"]


def test_it_refuses_a_body_that_is_not_multipart(api, client):
    response = client.post(FILES, {"content": "x"}, content_type="application/json", **api.auth)
    body = problem(response, 400)
    assert body["title"] == "Bad request" and "multipart/form-data" in body["detail"]


@pytest.mark.parametrize(
    ("content", "fields", "message"),
    [
        (None, {"metadata": "{}"}, "This field is required."),
        (None, {"content": "just text"}, "Send a file here, not text."),
        (b"", {}, "The file is empty."),
        (HTML, {}, "not an accepted type"),
    ],
    ids=["missing", "text", "empty", "html"],
)
def test_it_refuses_a_missing_empty_or_unsupported_file(api, content, fields, message):
    before = stored_files()

    field, description = refused_field(api.upload(content, **fields))

    assert field == "content" and message in description
    assert not Upload.objects.exists()
    assert stored_files() == before


def test_it_refuses_a_file_over_the_limit(api, settings):
    settings.UPLOAD_MAX_IMAGE_MB = 1
    settings.UPLOAD_MAX_VIDEO_MB = 1
    padding = b"\0" * (1024 * 1024)

    # Over the PNG limit, stopped while the bytes arrive...
    field, description = refused_field(api.upload(png() + padding))
    assert field == "content" and "too large" in description
    # ...and far over any limit, refused from Content-Length before reading.
    field, description = refused_field(api.upload(png() + padding * 3))
    assert field == "content" and "too large" in description
    assert not Upload.objects.exists()


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ("{not json", "Malformed JSON"),
        ("[1, 2]", "Must be a JSON object."),
        ('{"x": NaN}', "numbers must be finite"),
        ('{"x": "a\\u0000b"}', "null character"),
        ('{"x": "\\ud800"}', "unpaired surrogate"),
        ("[" * 5000, "Malformed JSON"),
        (json.dumps({"x": "y" * 70_000}), "Too large"),
    ],
    ids=["malformed", "array", "nan", "nul", "surrogate", "deep", "large"],
)
def test_it_refuses_metadata_that_is_not_a_json_object(api, metadata, message):
    field, description = refused_field(api.upload(png(), metadata=metadata))
    assert field == "metadata" and message in description
    assert not Upload.objects.exists()


def test_it_takes_the_filename_field_and_judges_the_type_by_content(api):
    response = api.upload(png(), name="ignored.jpg", filename="poster.webp", type="text/plain")
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["name"], created["content_type"]) == ("poster.webp", "image/png")
    assert created["metadata"] == {}
    assert Upload.objects.get().storage_name.endswith("/poster.png")


def test_it_answers_404_for_an_unknown_id_and_400_for_a_bad_cursor(api, alice):
    for path in (f"{FILES}/no-such-file", f"{FILES}/{'x' * 100}"):
        assert "not found" in problem(api.get(path), 404)["detail"]
        assert problem(api.delete(path), 404)["title"] == "Not found"
    assert "cursor" in problem(api.get(FILES, data={"cursor": "garbage"}), 400)["detail"]


def test_another_teams_file_is_404_over_http(api, client, carol):
    created = api.upload(png()).json()
    _, carols_key = apikeys.issue(carol, "carol's key")
    theirs = {"HTTP_AUTHORIZATION": f"Bearer {carols_key}"}

    assert problem(client.get(f"{FILES}/{created['id']}", **theirs), 404)
    assert problem(client.delete(f"{FILES}/{created['id']}", **theirs), 404)
    assert client.get(FILES, **theirs).json()["results"] == []
    assert default_storage.exists(Upload.objects.get(file_id=created["id"]).storage_name)
    assert api.delete(f"{FILES}/{created['id']}").status_code == 204


def test_it_answers_405_with_allow_and_401_without_a_key(api, client):
    created = api.upload(png()).json()

    response = client.put(FILES, **api.auth)
    assert problem(response, 405) and response["Allow"] == "GET, POST"
    response = client.post(f"{FILES}/{created['id']}", **api.auth)
    assert problem(response, 405) and response["Allow"] == "GET, DELETE"
    assert problem(client.get(FILES), 401)
    assert problem(client.delete(f"{FILES}/{created['id']}"), 401)
    assert Upload.objects.filter(file_id=created["id"]).exists()


def test_delete_answers_204_without_a_body(api):
    created = api.upload(png()).json()

    response = api.delete(f"{FILES}/{created['id']}")

    assert response.status_code == 204 and response.content == b""
    assert not Upload.objects.exists()


def test_the_openapi_document_lists_the_files_paths():
    paths = document()["paths"]
    assert set(paths[FILES]) == {"get", "post"}
    assert set(paths[FILES + "/{file_id}"]) == {"get", "delete"}
    assert "204" in paths[FILES + "/{file_id}"]["delete"]["responses"]
    schema = paths[FILES]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["required"] == ["content"]
