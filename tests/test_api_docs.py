"""The API docs pages, and their snippets run exactly as printed."""

import html
import os
import re
import subprocess
import sys

import pytest

from playground import catalog


def snippets(page: str) -> dict[str, str]:
    blocks = re.findall(
        r'<pre class="snippet" data-lang="(\w+)"><code>(.*?)</code></pre>', page, re.S
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
