"""The playground's uploads: type judged by content, size limited while reading."""

import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from playground.models import Upload

IMAGE_LIMIT = settings.UPLOAD_MAX_IMAGE_MB * 1024 * 1024
MP4_HEAD = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + b"\x00" * 600


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def upload(client, content: bytes, name: str = "photo.png", kind: str = "image"):
    file = SimpleUploadedFile(name, content, content_type="image/png")
    return client.post(f"/uploads/?kind={kind}", {"file": file})


def uploaded_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "uploads"
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def test_it_stores_an_image_under_an_unguessable_path_and_answers_its_url(signed_in, alice):
    content = png_bytes()
    response = upload(signed_in, content, name="My Photo!.png")
    assert response.status_code == 201
    answer = response.json()
    assert answer["type"] == "image/png" and answer["size"] == len(content)
    assert answer["url"].startswith("http://testserver/media/uploads/")
    token, name = answer["url"].removeprefix("http://testserver/media/uploads/").split("/")
    assert len(token) >= 24 and name == "My_Photo.png"
    assert (Path(settings.MEDIA_ROOT) / "uploads" / token / name).read_bytes() == content
    stored = Upload.objects.get()
    assert (stored.owner, stored.team_id) == (alice, alice.profile.team_id)


def test_it_names_the_file_by_its_content_not_its_name(signed_in):
    response = upload(signed_in, png_bytes(), name="cat.jpg")
    assert response.json()["url"].endswith("/cat.png")


def test_it_refuses_a_file_that_is_not_what_it_claims(signed_in):
    before = uploaded_files()
    response = upload(signed_in, b"<!doctype html><html><body>hi</body></html>" * 20)
    assert response.status_code == 400
    assert "an HTML page" in response.json()["error"]
    assert uploaded_files() == before
    assert not Upload.objects.exists()


def test_it_refuses_an_image_in_a_video_field_and_takes_an_mp4(signed_in):
    refused = upload(signed_in, png_bytes(), kind="video")
    assert refused.status_code == 400
    assert "MP4" in refused.json()["error"]
    taken = upload(signed_in, MP4_HEAD, name="dance.mov", kind="video")
    assert taken.status_code == 201
    assert taken.json()["url"].endswith("/dance.mp4")


def test_it_stops_reading_at_the_size_limit(signed_in):
    before = uploaded_files()
    # Just over the limit, within the multipart envelope: refused while reading.
    response = upload(signed_in, png_bytes() + b"\x00" * IMAGE_LIMIT)
    assert response.status_code == 400
    assert "too large" in response.json()["error"]
    assert uploaded_files() == before


def test_it_refuses_a_body_declared_too_large_before_reading_it(signed_in):
    response = upload(signed_in, png_bytes() + b"\x00" * (IMAGE_LIMIT + 200_000))
    assert response.status_code == 413
    assert "too large" in response.json()["error"]


def test_it_takes_a_file_at_exactly_the_limit(signed_in):
    content = png_bytes()
    response = upload(signed_in, content + b"\x00" * (IMAGE_LIMIT - len(content)))
    assert response.status_code == 201
    assert response.json()["size"] == IMAGE_LIMIT


def test_it_explains_a_missing_or_empty_file(signed_in):
    assert signed_in.post("/uploads/").json() == {"error": "Choose a file to upload."}
    empty = upload(signed_in, b"")
    assert empty.status_code == 400
    assert "empty" in empty.json()["error"]


def test_it_refuses_an_unknown_kind(signed_in):
    assert upload(signed_in, png_bytes(), kind="audio").status_code == 400


def test_it_needs_a_login(client, db):
    before = uploaded_files()
    response = upload(client, png_bytes())
    assert response.status_code == 302
    assert uploaded_files() == before
