"""Media on S3-compatible object storage (MEDIA_STORAGE=s3), through the production profile.

moto's S3 server on 127.0.0.1 stands in for the object store: a real HTTP
server speaking S3 (signed requests, presigned GETs), as MinIO or R2 would.
The web server and the cluster are `manage.py serve` and `qcluster` on the
drill's own queue; every file goes through django-storages to that server.
"""

import io
import secrets

import av
import boto3
import httpx
import numpy as np
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image

from playground.models import Generation, Upload
from tests.reliability.conftest import wait_all_finished
from tests.reliability.stack import free_port, needs_services

pytestmark = needs_services

RED = (210, 40, 40)


@pytest.fixture
def object_store():
    """An S3 server on 127.0.0.1 with one empty bucket, gone after the test."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    credentials = {"aws_access_key_id": "reelgate", "aws_secret_access_key": "drill-secret"}
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **credentials)
    bucket = f"reelgate-media-{secrets.token_hex(3)}"
    client.create_bucket(Bucket=bucket)
    env = {
        "MEDIA_STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": bucket,
        "AWS_ACCESS_KEY_ID": credentials["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": credentials["aws_secret_access_key"],
        "AWS_S3_ENDPOINT_URL": endpoint,
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_LOCATION": "media",  # a folder inside the bucket
    }
    yield client, bucket, env
    server.stop()


def stored_names(client, bucket: str) -> set[str]:
    listed = client.list_objects_v2(Bucket=bucket)
    return {item["Key"] for item in listed.get("Contents", [])}


def png(color=RED) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), color).save(out, format="PNG")
    return out.getvalue()


def test_uploads_and_results_live_in_the_bucket_and_their_urls_serve_them(
    stacks, object_store, alice_key
):
    client, bucket, env = object_store
    stack = stacks(**env)
    stack.start_cluster()
    stack.start_web()
    api = httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {alice_key}"})

    # An upload is stored as an object, and the URL handed back serves it.
    answer = api.post("/api/file-stream-upload", files={"file": ("start.png", png(), "image/png")})
    assert answer.status_code == 200, answer.text
    upload = answer.json()["data"]
    stored = Upload.objects.get(file_id=upload["fileId"]).storage_name
    assert f"media/{stored}" in stored_names(client, bucket)
    assert upload["fileUrl"].startswith(env["AWS_S3_ENDPOINT_URL"])
    assert "X-Amz-Signature=" in upload["fileUrl"]  # presigned (v4): the bucket is private
    assert httpx.get(upload["fileUrl"]).content == png()

    # A generation started from that URL keeps the upload (it is used) and
    # renders from it.
    body = {
        "model": "kling/v2-1-standard",
        "input": {"prompt": "the red wall slowly comes alive", "image_url": upload["fileUrl"]},
    }
    answer = api.post("/api/v1/jobs/createTask", json=body)
    assert answer.status_code == 200, answer.text
    task_id = answer.json()["data"]["taskId"]
    assert Upload.objects.get(file_id=upload["fileId"]).used_at is not None
    (generation,) = wait_all_finished([task_id], timeout=120, stacks=[stack])
    assert generation.state == Generation.SUCCESS, generation.fail_msg

    # The video and the poster are objects; recordInfo's URLs serve them.
    names = {f"media/{generation.video.name}", f"media/{generation.poster.name}"}
    assert names <= stored_names(client, bucket)
    record = api.get("/api/v1/jobs/recordInfo", params={"taskId": task_id}).json()["data"]
    result = httpx.Response(200, content=record["resultJson"]).json()
    (video_url,) = result["resultUrls"]
    video = httpx.get(video_url)
    assert video.status_code == 200
    with av.open(io.BytesIO(video.content)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    height, width = first.shape[:2]
    centre = first[int(height * 0.3) : int(height * 0.65), int(width * 0.25) : int(width * 0.75)]
    assert np.abs(centre.reshape(-1, 3).mean(0) - RED).max() < 12  # rendered from the upload
    poster = httpx.get(result["thumbnailUrl"])
    assert poster.status_code == 200
    assert Image.open(io.BytesIO(poster.content)).size == (width, height)

    # The OpenAI contract's content endpoint streams the same object, and
    # deleting the video removes both objects from the bucket.
    content = api.get(f"/v1/videos/{task_id}/content")
    assert content.status_code == 200
    assert content.content == video.content
    assert api.delete(f"/v1/videos/{task_id}").status_code == 200
    assert not names & stored_names(client, bucket)
    assert f"media/{stored}" in stored_names(client, bucket)  # the upload stays: it was used
