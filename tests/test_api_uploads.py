"""Uploads: file-stream-upload, file-base64-upload, file-url-upload, and their lifecycle."""

import base64
import io
import json
from datetime import datetime, timedelta
from pathlib import Path

import av
import numpy as np
import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from playground import services, uploads
from playground.models import Generation, Upload
from tests.httpservers import LoopbackServer
from tests.processes import wait_for

STREAM = "/api/file-stream-upload"
BASE64 = "/api/file-base64-upload"
URL = "/api/file-url-upload"
HTML = b"<!doctype html><html><body>not a cat</body></html>"
MB = 1024 * 1024


def png(color=(210, 40, 40), size=(320, 240)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def mp4_header() -> bytes:
    # An ISO base media `ftyp` box: enough for the type to be sniffed as MP4.
    return b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"


def stored_files() -> set[str]:
    root = Path(django_settings.MEDIA_ROOT) / "uploads"
    return {str(path) for path in root.rglob("*") if path.is_file()} if root.exists() else set()


@pytest.fixture
def api(client, alice_key):
    """The Django test client with alice's key: multipart or JSON posts."""

    class Api:
        auth = {"HTTP_AUTHORIZATION": f"Bearer {alice_key}"}

        def upload(self, content: bytes, name="cat.png", content_type="image/png", **fields):
            file = SimpleUploadedFile(name, content, content_type=content_type)
            return client.post(STREAM, {"file": file, **fields}, **self.auth)

        def post(self, path, body, **extra):
            data = body if isinstance(body, str | bytes) else json.dumps(body)
            return client.post(path, data, content_type="application/json", **self.auth, **extra)

    return Api()


def data_of(response) -> dict:
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["code"], body["msg"]) == (200, "success")
    return body["data"]


def served(client, file_url: str) -> bytes:
    response = client.get(file_url.removeprefix("http://testserver"))
    assert response.status_code == 200
    return b"".join(response.streaming_content)


# file-stream-upload ---------------------------------------------------------


def test_it_stores_a_multipart_upload_and_answers_with_both_kie_shapes(api, client, alice):
    image = png()
    data = data_of(api.upload(image, name="my cat.png", uploadPath="images/user-uploads"))

    assert data["mimeType"] == "image/png"
    assert data["fileSize"] == len(image)
    assert data["originalName"] == "my cat.png"
    assert data["fileName"] == "my_cat.png"
    token = data["fileId"]
    assert len(token) >= 20
    assert data["filePath"] == f"uploads/{token}/my_cat.png"
    assert data["fileUrl"] == f"http://testserver/media/uploads/{token}/my_cat.png"
    assert data["downloadUrl"] == data["fileUrl"]
    uploaded_at = datetime.fromisoformat(data["uploadedAt"])
    assert data["uploadedAt"].endswith("Z")
    assert datetime.fromisoformat(data["expiresAt"]) - uploaded_at == timedelta(hours=24)
    assert served(client, data["fileUrl"]) == image

    upload = Upload.objects.get(file_id=token)
    assert (upload.owner, upload.team_id) == (alice, alice.profile.team_id)
    assert (upload.storage_name, upload.used_at) == (data["filePath"], None)


def test_it_judges_the_type_by_content_not_by_name_or_content_type(api):
    jpeg = io.BytesIO()
    Image.new("RGB", (64, 64), (0, 90, 200)).save(jpeg, format="JPEG")
    data = data_of(api.upload(jpeg.getvalue(), name="photo.png", content_type="text/plain"))
    assert data["mimeType"] == "image/jpeg"
    assert data["fileName"] == "photo.jpg"

    data = data_of(api.upload(png(), name="picture", content_type="text/plain"))
    assert (data["mimeType"], data["fileName"]) == ("image/png", "picture.png")


def test_it_refuses_an_html_page_named_cat_png_and_stores_nothing(api):
    before = stored_files()
    response = api.upload(HTML, name="cat.png", content_type="image/png")
    assert response.status_code == 422
    body = response.json()
    assert "an HTML page" in body["msg"]
    assert "file" in body["data"]["errors"]
    assert not Upload.objects.exists()
    assert stored_files() == before


def test_it_refuses_an_image_just_over_the_limit_while_reading(api):
    before = stored_files()
    too_big = png() + b"\0" * (10 * MB + 1 - len(png()))
    assert len(too_big) == 10 * MB + 1
    response = api.upload(too_big)
    assert response.status_code == 422
    assert "at most 10 MB" in response.json()["msg"]
    assert not Upload.objects.exists()
    assert stored_files() == before

    data = data_of(api.upload(too_big[:-1]))  # exactly 10 MB is fine
    assert data["fileSize"] == 10 * MB


def test_an_mp4_may_be_larger_than_an_image(api):
    video = mp4_header() + b"\0" * (11 * MB)
    data = data_of(api.upload(video, name="dance.mov", content_type="video/quicktime"))
    assert (data["mimeType"], data["fileName"]) == ("video/mp4", "dance.mp4")


def test_a_declared_length_over_every_limit_is_refused_before_reading(api, settings):
    settings.UPLOAD_MAX_IMAGE_MB = settings.UPLOAD_MAX_VIDEO_MB = 1
    response = api.upload(png() + b"\0" * (3 * MB))
    assert response.status_code == 422
    assert "at most 1 MB" in response.json()["msg"]


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "file: The file is empty."), (b"GIF89a" + b"\0" * 100, "image/gif")],
)
def test_it_refuses_empty_and_unsupported_files(api, content, message):
    response = api.upload(content)
    assert response.status_code == 422
    assert message in response.json()["msg"]


def test_it_asks_for_the_file_field(api, client, alice_key):
    response = client.post(STREAM, {"image": SimpleUploadedFile("cat.png", png())}, **api.auth)
    assert response.status_code == 422
    assert response.json()["data"]["errors"] == {"file": ["This field is required."]}

    response = api.post(STREAM, {"file": "cat.png"})
    assert response.status_code == 400
    assert "multipart/form-data" in response.json()["msg"]


# file-base64-upload ---------------------------------------------------------


def test_it_takes_a_data_uri_and_bare_base64(api, client):
    image = png((20, 200, 20))
    encoded = base64.b64encode(image).decode()

    data = data_of(api.post(BASE64, {"base64Data": f"data:image/png;base64,{encoded}"}))
    assert (data["mimeType"], data["fileSize"]) == ("image/png", len(image))
    assert data["fileName"] == "upload.png"
    assert served(client, data["fileUrl"]) == image

    data = data_of(api.post(BASE64, {"base64Data": encoded, "fileName": "leaf.webp"}))
    assert (data["fileName"], data["originalName"]) == ("leaf.png", "leaf.webp")
    assert served(client, data["fileUrl"]) == image


def test_it_takes_line_wrapped_unpadded_and_url_safe_base64(api, client):
    image = png((1, 2, 3)) + b"\xfb\xff"  # bytes that encode to + and /
    encoded = base64.urlsafe_b64encode(image).decode().rstrip("=")
    wrapped = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    data = data_of(api.post(BASE64, {"base64Data": wrapped}))
    assert served(client, data["fileUrl"]) == image


@pytest.mark.parametrize(
    "payload",
    ["not base64 at all!", "data:image/png,iVBORw0KGgo=", "iVBO=Rw0K", "abcde", "%lpwªÏâcÅ"],
)
def test_bad_base64_is_a_400(api, payload):
    response = api.post(BASE64, {"base64Data": payload})
    assert response.status_code == 400, response.content
    assert "base64" in response.json()["msg"]
    assert not Upload.objects.exists()


def test_base64_content_is_checked_like_any_upload(api):
    response = api.post(BASE64, {"base64Data": base64.b64encode(HTML).decode()})
    assert response.status_code == 422
    assert "an HTML page" in response.json()["msg"]

    response = api.post(BASE64, {"fileName": "cat.png"})
    assert response.status_code == 422
    assert response.json()["data"]["errors"] == {"base64Data": ["This field is required."]}


def test_a_base64_upload_over_the_limit_is_refused(api, settings):
    settings.UPLOAD_MAX_IMAGE_MB = 1
    before = stored_files()
    body = png() + b"\0" * (MB + 1 - len(png()))
    response = api.post(BASE64, {"base64Data": base64.b64encode(body).decode()})
    assert response.status_code == 422
    assert "at most 1 MB" in response.json()["msg"]
    assert stored_files() == before

    data = data_of(api.post(BASE64, {"base64Data": base64.b64encode(body[:-1]).decode()}))
    assert data["fileSize"] == MB


# file-url-upload ------------------------------------------------------------


def test_it_fetches_a_url_served_as_text_plain(api, client, settings):
    settings.ALLOW_PRIVATE_URLS = True
    image = png((30, 60, 200))
    with LoopbackServer() as server:
        server.route("/photos/cat%20one.png", body=image, headers={"Content-Type": "text/plain"})
        data = data_of(api.post(URL, {"fileUrl": server.url + "/photos/cat%20one.png"}))
    assert (data["mimeType"], data["fileSize"]) == ("image/png", len(image))
    assert (data["originalName"], data["fileName"]) == ("cat one.png", "cat_one.png")
    assert served(client, data["fileUrl"]) == image


def test_it_refuses_a_url_that_is_not_an_image(api, settings):
    settings.ALLOW_PRIVATE_URLS = True
    with LoopbackServer() as server:
        server.route("/cat.png", body=HTML, headers={"Content-Type": "image/png"})
        server.route("/gone.png", status=404)
        base = server.url
        response = api.post(URL, {"fileUrl": server.url + "/cat.png"})
        assert response.status_code == 400
        assert "an HTML page" in response.json()["msg"]
        response = api.post(URL, {"fileUrl": server.url + "/gone.png"})
        assert response.status_code == 400
        assert "404" in response.json()["msg"]
    response = api.post(URL, {"fileUrl": base + "/cat.png"})  # nothing listens now
    assert response.status_code == 400
    assert "could not connect" in response.json()["msg"]
    assert not Upload.objects.exists()


def test_it_refuses_a_private_url_unless_allowed(api, settings):
    settings.ALLOW_PRIVATE_URLS = False
    with LoopbackServer() as server:
        server.route("/cat.png", body=png())
        response = api.post(URL, {"fileUrl": server.url + "/cat.png"})
    assert response.status_code == 422
    body = response.json()
    assert "loopback address" in body["msg"]
    assert list(body["data"]["errors"]) == ["fileUrl"]
    assert server.requests == []

    for bad in ({}, {"fileUrl": ""}, {"fileUrl": 5}):
        assert api.post(URL, bad).status_code == 422
    assert api.post(URL, {"fileUrl": "file:///etc/passwd"}).status_code == 422


# All three ------------------------------------------------------------------


@pytest.mark.parametrize("path", [STREAM, BASE64, URL])
def test_it_rejects_requests_without_a_valid_key(client, alice, path):
    response = client.post(path, {}, content_type="application/json")
    assert response.status_code == 401
    assert response.json()["code"] == 401
    response = client.post(path, {}, HTTP_AUTHORIZATION="Bearer rg_wrong")
    assert response.status_code == 401


def test_submit_marks_the_uploads_a_generation_uses(api, alice):
    used = data_of(api.upload(png()))
    unused = data_of(api.upload(png()))
    services.submit(
        user=alice,
        model="kling/v2-1-standard",
        input={"prompt": "a cat", "image_url": used["fileUrl"]},
    )
    assert Upload.objects.get(file_id=used["fileId"]).used_at is not None
    assert Upload.objects.get(file_id=unused["fileId"]).used_at is None


def test_remove_unused_deletes_only_old_unused_uploads(alice, tmp_path):
    source = tmp_path / "cat.png"
    source.write_bytes(png())
    old_unused, old_used, new_unused = (
        uploads.store_upload(alice, source, original_name="cat.png") for _ in range(3)
    )
    day_ago = timezone.now() - timedelta(hours=25)
    Upload.objects.filter(pk__in=[old_unused.pk, old_used.pk]).update(created_at=day_ago)
    Upload.objects.filter(pk=old_used.pk).update(used_at=timezone.now())

    assert uploads.remove_unused() == 1
    assert set(Upload.objects.values_list("pk", flat=True)) == {old_used.pk, new_unused.pk}
    assert not default_storage.exists(old_unused.storage_name)
    assert not (Path(django_settings.MEDIA_ROOT) / old_unused.storage_name).parent.exists()
    assert default_storage.exists(old_used.storage_name)
    assert default_storage.exists(new_unused.storage_name)


def test_the_sweeper_removes_unused_uploads_at_most_once_an_hour(alice, tmp_path):
    from playground import sweeper

    source = tmp_path / "cat.png"
    source.write_bytes(png())
    first, second = (uploads.store_upload(alice, source) for _ in range(2))
    Upload.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(days=2))
    cache.delete(uploads.CLEANUP_CACHE_KEY)
    assert sweeper.sweep()["uploads_removed"] == 1
    Upload.objects.filter(pk=second.pk).update(created_at=timezone.now() - timedelta(days=2))
    assert sweeper.sweep()["uploads_removed"] == 0  # within the hour
    cache.delete(uploads.CLEANUP_CACHE_KEY)
    assert sweeper.sweep()["uploads_removed"] == 1


# End to end -----------------------------------------------------------------


def test_an_uploaded_image_drives_an_image_to_video_generation(worker, client, alice_key):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {alice_key}"}
    # A host the worker's ALLOWED_HOSTS knows, so it reads the file from storage.
    host = {"HTTP_HOST": "localhost:8000"}
    red = SimpleUploadedFile("start.png", png((210, 40, 40)), content_type="image/png")
    data = data_of(client.post(STREAM, {"file": red}, **auth, **host))
    assert data["fileUrl"].startswith("http://localhost:8000/media/uploads/")

    body = {
        "model": "kling/v2-1-standard",
        "input": {"prompt": "the red wall slowly comes alive", "image_url": data["fileUrl"]},
    }
    response = client.post(
        "/api/v1/jobs/createTask", body, content_type="application/json", **auth, **host
    )
    task_id = data_of(response)["taskId"]
    generation = Generation.objects.get(task_id=task_id)
    assert Upload.objects.get(file_id=data["fileId"]).used_at is not None

    def done():
        generation.refresh_from_db()
        return generation.is_finished

    wait_for(done, timeout=90, message=f"{task_id} to finish")
    assert generation.state == Generation.SUCCESS, generation.fail_msg
    with default_storage.open(generation.video.name) as handle, av.open(handle) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    h, w = first.shape[:2]
    centre = first[int(h * 0.3) : int(h * 0.65), int(w * 0.25) : int(w * 0.75)]
    assert np.abs(centre.reshape(-1, 3).mean(0) - (210, 40, 40)).max() < 12


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8000/media/uploads/AbC123/cat.png",  # the filesystem storage
        # Object storage: path-style with AWS_LOCATION, presigned; virtual-hosted; a CDN.
        "http://127.0.0.1:9000/bucket/media/uploads/AbC123/cat.png?X-Amz-Signature=f00",
        "https://bucket.s3.eu-west-1.amazonaws.com/uploads/AbC123/cat.png?Expires=1",
        "https://cdn.example.com/uploads/AbC123/cat%2Epng",
    ],
)
def test_an_upload_is_known_by_its_url_on_any_storage(url):
    assert uploads.upload_name(url) == "uploads/AbC123/cat.png"


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/cat.png",
        "https://example.com/uploads/cat.png",  # no file id
        "https://example.com/uploads/AbC123/",  # no name
        "https://example.com/uploads/../cat.png",
        "https://example.com/uploads/AbC123/cat.png/more",
        "http://[::1",  # not a URL
        42,
    ],
)
def test_other_urls_name_no_upload(url):
    assert uploads.upload_name(url) is None
