"""The seeds' example requests, sent verbatim over HTTP (only the host and the
key changed), reach success end to end: live server, real worker, real files."""

import io
import json
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from tests.httpservers import LoopbackServer, Reply
from tests.processes import wait_for

EXAMPLES = Path(__file__).parent / "fixtures" / "seed_examples"


def example(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


@pytest.fixture
def http(live_server, worker, alice_key):
    with httpx.Client(
        base_url=live_server.url, headers={"Authorization": f"Bearer {alice_key}"}, timeout=30
    ) as client:
        yield client


def poll(http, path, params, *, done_states, key="state", timeout=90):
    def finished():
        data = http.get(path, params=params).json()["data"]
        return data if data[key] in done_states else None

    return wait_for(finished, timeout=timeout, interval=0.3, message=f"{params} to finish")


def create_and_finish(http, body: dict) -> dict:
    """createTask the body, then poll recordInfo until the task has finished."""
    created = http.post("/api/v1/jobs/createTask", json=body).json()
    assert created["code"] == 200, created
    task = {"taskId": created["data"]["taskId"]}
    return poll(http, "/api/v1/jobs/recordInfo", task, done_states={"success", "fail"})


def assert_video_served(http, url):
    response = http.get(url)
    assert response.status_code == 200
    assert response.content[4:8] == b"ftyp"  # an MP4


@pytest.mark.parametrize("name", ["000_kling-v2-1.json", "001_veo-3-1.json"])
def test_jobs_examples_succeed(http, name):
    body = example(name)
    data = create_and_finish(http, body)
    assert data["state"] == "success", data["failMsg"]
    assert json.loads(data["param"]) == body
    result = json.loads(data["resultJson"])
    assert_video_served(http, result["resultUrls"][0])
    assert data["creditsCharged"] > 0


def test_the_image_to_video_example_succeeds_with_its_callback(http, settings):
    settings.ALLOW_PRIVATE_URLS = True  # the image host and the receiver are on loopback
    body = example("003_kling-v2-1-standard.json")
    picture = io.BytesIO()
    Image.new("RGB", (640, 360), (200, 120, 40)).save(picture, "WEBP")
    with LoopbackServer() as images, LoopbackServer() as receiver:
        image_path = urlsplit(body["input"]["image_url"]).path
        images.route(image_path, Reply(body=picture.getvalue()))
        receiver.route("/api/callback", Reply(status=200))
        body["input"]["image_url"] = images.url + image_path
        body["callBackUrl"] = receiver.url + "/api/callback"

        data = create_and_finish(http, body)
        assert data["state"] == "success", data["failMsg"]
        assert len(images.requests_to(image_path)) == 1


def test_the_video_generations_example_succeeds(http):
    body = example("002_kling-v2-6.json")
    created = http.post("/api/v1/video/generations", json=body).json()
    assert created["code"] == 200, created
    assert created["data"]["state"] == "pending"
    assert created["data"]["model"] == "kling-video/kling-v2-6"
    data = poll(
        http,
        "/api/v1/video/generations",
        {"task_id": created["data"]["taskId"]},
        done_states={"completed", "failed"},
    )
    assert data["state"] == "completed", data.get("failMsg")
    assert_video_served(http, data["resultUrls"][0])


def test_the_generate_task_example_succeeds(http):
    body = example("004_kling-2-1_master-text-to-video.json")
    body.pop("callback_url", None)
    body["request_type"] = "async"
    created = http.post("/api/v1/generateTask/kling-2-1", json=body).json()
    assert created["code"] == 200, created
    data = poll(
        http,
        "/api/v1/statusTask/kling-2-1",
        {"taskId": created["data"]["taskId"]},
        done_states={"success", "failed"},
    )
    assert data["state"] == "success", data["failMsg"]
    assert_video_served(http, json.loads(data["resultJson"])["resultUrls"][0])
