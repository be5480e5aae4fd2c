"""The API docs pages: their snippets run exactly as printed, each has a Copy
button, fields read as JSON types, and the example answers have the shape of
the API's real ones."""

import html
import json
import os
import re
import subprocess
import sys
from decimal import Decimal

import pytest
from django.utils import timezone

from playground import catalog
from playground.models import Generation


def snippets(page: str) -> dict[str, str]:
    blocks = re.findall(
        r'<pre id="snippet-\w+" class="snippet" data-lang="(\w+)"><code>(.*?)</code></pre>',
        page,
        re.S,
    )
    return {lang: html.unescape(code) for lang, code in blocks}


def test_every_model_has_a_docs_page(client, alice):
    client.force_login(alice)
    index = client.get("/docs/").content.decode()
    for spec in catalog.all_specs():
        assert f"/docs/models/{spec.id}/" in index
        page = client.get(f"/docs/models/{spec.id}/").content.decode()
        assert spec.title in page
        assert set(snippets(page)) == {"curl", "python", "javascript"}
        for field in spec.fields:
            assert f"<code>{field.name}</code>" in page
    assert client.get("/docs/models/kling/v9/").status_code == 404


def test_every_code_block_has_a_copy_button(client, alice):
    client.force_login(alice)
    for url in ("/docs/", "/docs/models/kling-v2-6/"):
        page = client.get(url).content.decode()
        blocks = re.findall(r'<pre id="([\w-]+)"', page)
        assert len(blocks) >= 2
        for block in blocks:
            assert f'data-copy="{block}">Copy</button>' in page
        assert '<script src="/static/js/copy.js" defer></script>' in page


def field_row(page: str, name: str) -> str:
    return re.search(rf'<tr data-field="{name}">(.*?)</tr>', page, re.S)[1]


def test_fields_read_as_json_types_with_their_allowed_values(client, alice):
    client.force_login(alice)
    page = client.get("/docs/models/kling/v2-1/").content.decode()
    duration = field_row(page, "duration")
    assert '<td class="json-type" data-label="type">integer</td>' in duration
    assert '<span class="limit">5 to 10</span><span class="limit">in steps of 5</span>' in duration
    assert "<code>5</code>" in duration  # the default, a JSON number
    resolution = field_row(page, "resolution")
    assert '<td class="json-type" data-label="type">string</td>' in resolution
    assert "one of <code>&quot;480p&quot;</code>, <code>&quot;720p&quot;</code>" in resolution
    audio = field_row(page, "generate_audio")
    assert '<td class="json-type" data-label="type">boolean</td>' in audio
    assert "at most 5000 characters" in field_row(page, "prompt")

    page = client.get("/docs/models/kling-2-1/").content.decode()
    images = field_row(page, "image_urls")
    assert '<td class="json-type" data-label="type">array of URL strings</td>' in images
    assert "at most 2 URLs" in images
    cfg = field_row(page, "cfg_scale")
    assert '<td class="json-type" data-label="type">number</td>' in cfg and "in steps of 0.1" in cfg


def test_every_fields_type_is_its_openapi_type(client, alice):
    client.force_login(alice)
    words = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean"}
    for spec in catalog.all_specs():
        page = client.get(f"/docs/models/{spec.id}/").content.decode()
        schema = catalog.input_schema(spec)["properties"]
        for field in spec.fields:
            row = field_row(page, field.name)
            shown = re.search(r'<td class="json-type" data-label="type">(.*?)</td>', row)[1]
            kind = schema[field.name]["type"]
            assert shown.startswith("array" if kind == "array" else words[kind]), field.name


def examples(page: str) -> dict[tuple[str, str], object]:
    blocks = re.findall(
        r'<pre id="example-(\w+)-(request|create|status)" class="example" data-lang="json">'
        r"<code>(.*?)</code></pre>",
        page,
        re.S,
    )
    return {(name, call): json.loads(html.unescape(text)) for name, call, text in blocks}


def shape(value):
    """The keys and JSON types of a document, its values left out."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value[:1]]
    if isinstance(value, str) and value.startswith("{"):
        return shape(json.loads(value))  # param and resultJson: JSON inside a string
    return "number" if type(value) in (int, float) else type(value).__name__


def test_the_example_answers_have_the_shape_of_the_apis_own(client, alice, alice_key):
    client.force_login(alice)
    shown = examples(client.get("/docs/models/kling/v2-1/").content.decode())
    assert set(shown) == {
        (name, call)
        for name in ("jobs", "video_generations", "generate_task", "openai", "replicate")
        for call in ("request", "create", "status")
    }
    client.logout()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {alice_key}"}
    creates = {
        "jobs": "/api/v1/jobs/createTask",
        "video_generations": "/api/v1/video/generations",
        "generate_task": "/api/v1/generateTask/kling/v2-1",
        "openai": "/v1/videos",
        "replicate": "/v1/models/kling/v2-1/predictions",
    }
    statuses = {
        "jobs": "/api/v1/jobs/recordInfo?taskId={}",
        "video_generations": "/api/v1/video/generations?task_id={}",
        "generate_task": "/api/v1/statusTask/kling/v2-1?taskId={}",
        "openai": "/v1/videos/{}",
        "replicate": "/v1/predictions/{}",
    }
    for name, url in creates.items():
        body = shown[name, "request"]  # posted as printed
        created = client.post(url, body, content_type="application/json", **auth).json()
        assert shape(created) == shape(shown[name, "create"]), name
        task_id = Generation.objects.latest("created_at").task_id
        now = timezone.now()
        Generation.objects.filter(task_id=task_id).update(
            state=Generation.SUCCESS,
            progress=100,
            video=f"generations/abc/{task_id}.mp4",
            poster=f"generations/abc/{task_id}.jpg",
            width=1280,
            height=720,
            duration=5.0,
            charged_credits=Decimal("55.00"),
            started_at=now,
            completed_at=now,
        )
        status = client.get(statuses[name].format(task_id), **auth).json()
        assert shape(status) == shape(shown[name, "status"]), name


def test_the_docs_need_a_login(client):
    assert client.get("/docs/").status_code == 302


@pytest.fixture
def printed(client, alice, live_server):
    """The snippets of kling/v2-1's page as served by the live server's host."""
    client.force_login(alice)
    host = live_server.url.split("://", 1)[1]
    page = client.get("/docs/models/kling/v2-1/", HTTP_HOST=host).content.decode()
    return snippets(page)


def run(command: list[str], key: str, **kwargs) -> str:
    env = {**os.environ, "REELGATE_API_KEY": key}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, **kwargs)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_python_snippet_runs_as_printed(printed, worker, alice_key, live_server):
    output = run([sys.executable, "-c", printed["python"]], alice_key)
    assert output.strip().startswith(live_server.url + "/media/generations/")


def test_the_javascript_snippet_runs_as_printed(printed, worker, alice_key, live_server, tmp_path):
    script = tmp_path / "snippet.mjs"
    script.write_text(printed["javascript"])
    output = run(["node", str(script)], alice_key)
    assert output.strip().startswith(live_server.url + "/media/generations/")


def test_the_curl_snippet_runs_as_printed(printed, worker, alice_key):
    create, poll = printed["curl"].split("\n\n# Then poll")
    created = run(["bash", "-c", create], alice_key)
    assert '"code": 200' in created
    task_id = re.search(r'"taskId": "(\w+)"', created).group(1)
    poll_command = poll.split("\n", 1)[1].replace("TASK_ID", task_id)
    assert task_id in run(["bash", "-c", poll_command], alice_key)


@pytest.fixture
def printed_sdks(client, alice, live_server):
    client.force_login(alice)
    host = live_server.url.split("://", 1)[1]
    return snippets(client.get("/docs/", HTTP_HOST=host).content.decode())


def test_the_openai_snippet_runs_as_printed(printed_sdks, worker, alice_key, tmp_path):
    output = run([sys.executable, "-c", printed_sdks["openai"]], alice_key, cwd=tmp_path)
    assert output.strip() == "saved boat.mp4"
    assert (tmp_path / "boat.mp4").read_bytes()[4:8] == b"ftyp"


def test_the_replicate_snippet_runs_as_printed(printed_sdks, worker, alice_key, live_server):
    output = run([sys.executable, "-c", printed_sdks["replicate"]], alice_key)
    assert output.strip().startswith(live_server.url + "/media/generations/")
