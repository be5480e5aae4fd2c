"""Images are measured from their headers before anything decodes them: a
decompression bomb (a small file declaring a huge picture) is refused in each
contract's shape, as an upload and as a generation's input, and the worker
never decodes it. Files that only claim to be images stay refused."""

import base64
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import CreditAccount
from playground import services
from playground.models import Generation, Upload
from tests.httpservers import LoopbackServer, Reply
from tests.images import animated_png, decompression_bomb
from tests.processes import wait_for

# 64 megapixels in a 8 KB file: over the 25 megapixel limit, under the point
# where Pillow itself refuses to open an image (about 179 megapixels).
BOMB = decompression_bomb(8000, 8000)
# 400 megapixels: Pillow's own check refuses it when the header is read.
HUGE_BOMB = decompression_bomb(20000, 20000)
SVG = (
    b"<?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"
)
HTML = b"<!doctype html><html><body><script>alert(1)</script></body></html>"


def png(size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (210, 40, 40)).save(out, format="PNG")
    return out.getvalue()


def stored_files() -> set[Path]:
    root = Path(django_settings.MEDIA_ROOT) / "uploads"
    return {path for path in root.rglob("*") if path.is_file()} if root.exists() else set()


@pytest.fixture
def auth(alice_key) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {alice_key}"}


def stream_upload(client, auth, content: bytes):
    file = SimpleUploadedFile("cat.png", content, content_type="image/png")
    response = client.post("/api/file-stream-upload", {"file": file}, **auth)
    assert response.status_code == 422, response.content[:300]
    body = response.json()
    assert body["code"] == 422
    assert body["msg"] == "file: " + body["data"]["errors"]["file"][0]
    return body["msg"]


def base64_upload(client, auth, content: bytes):
    body = {"base64Data": base64.b64encode(content).decode(), "fileName": "cat.png"}
    response = client.post(
        "/api/file-base64-upload", json.dumps(body), content_type="application/json", **auth
    )
    assert response.status_code == 422, response.content[:300]
    return response.json()["msg"]


def replicate_file(client, auth, content: bytes):
    file = SimpleUploadedFile("cat.png", content, content_type="image/png")
    response = client.post("/v1/files", {"content": file}, **auth)
    assert response.status_code == 422, response.content[:300]
    assert response["Content-Type"] == "application/problem+json"
    return response.json()["detail"]


def openai_reference(client, auth, content: bytes):
    file = SimpleUploadedFile("cat.png", content, content_type="image/png")
    response = client.post(
        "/v1/videos",
        {"model": "kling-v2-6", "prompt": "a cat", "input_reference": file},
        **auth,
    )
    # OpenAI answers an unusable file with 400 invalid_file.
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_file", "input_reference")
    return error["message"]


def page_upload(client, auth, content: bytes):
    file = SimpleUploadedFile("cat.png", content, content_type="image/png")
    response = client.post("/uploads/?kind=image", {"file": file})
    assert response.status_code == 400, response.content[:300]
    return response.json()["error"]


ROUTES = [stream_upload, base64_upload, replicate_file, openai_reference, page_upload]


@pytest.mark.parametrize("send", ROUTES, ids=[route.__name__ for route in ROUTES])
def test_a_decompression_bomb_is_refused_and_nothing_is_stored(client, alice, auth, send):
    client.force_login(alice)
    before = stored_files()
    message = send(client, auth, BOMB)
    assert "too large: 8000x8000 pixels (64 megapixels)" in message
    assert "at most 25 megapixels" in message
    assert "too large to open" in send(client, auth, HUGE_BOMB)
    assert stored_files() == before
    assert not Upload.objects.exists()
    assert not Generation.objects.exists()


@pytest.mark.parametrize(
    ("content", "looks_like"), [(SVG, "an SVG image"), (HTML, "an HTML page")], ids=["svg", "html"]
)
@pytest.mark.parametrize("send", ROUTES, ids=[route.__name__ for route in ROUTES])
def test_markup_named_png_stays_refused(client, alice, auth, send, content, looks_like):
    client.force_login(alice)
    message = send(client, auth, content)
    assert f"The file is not an accepted type: its content looks like {looks_like}." in message
    assert not Upload.objects.exists()


def test_the_limits_are_settings_and_an_image_at_the_limit_is_taken(client, auth, settings):
    settings.UPLOAD_MAX_IMAGE_MEGAPIXELS = 1
    settings.UPLOAD_MAX_IMAGE_FRAMES = 10

    def upload(content: bytes):
        file = SimpleUploadedFile("cat.png", content, content_type="image/png")
        return client.post("/api/file-stream-upload", {"file": file}, **auth)

    assert upload(png((1000, 1000))).status_code == 200
    refused = upload(png((1001, 1000)))
    assert refused.status_code == 422
    assert "1001x1000 pixels" in refused.json()["msg"]

    assert upload(animated_png(10)).status_code == 200
    refused = upload(animated_png(12))
    assert refused.status_code == 422
    assert "too many frames: 12; images may have at most 10" in refused.json()["msg"]


def test_a_bomb_as_an_image_input_fails_the_generation_undecoded(worker, alice):
    with LoopbackServer() as server:
        server.route("/cat.png", Reply(body=BOMB, headers={"Content-Type": "image/png"}))
        generation = services.submit(
            user=alice,
            model="kling/v2-1-standard",
            input={"prompt": "a cat wakes up", "image_url": server.url + "/cat.png"},
        )

        def finished():
            generation.refresh_from_db()
            return generation.is_finished

        wait_for(finished, timeout=60, message=f"{generation.task_id} to finish")
    assert (generation.state, generation.fail_code) == (Generation.FAIL, "INVALID_IMAGE_URL")
    assert "8000x8000 pixels" in generation.fail_msg
    assert "cat.png" in generation.fail_msg
    account = CreditAccount.objects.get(team__members__user=alice)
    assert (account.balance, account.held) == (Decimal("500.00"), Decimal("0.00"))
