"""GET /metrics adds up every process: a web server and a django-q2 cluster share one
PROMETHEUS_MULTIPROC_DIR, real generations go through the API and the local
renderer, and the scrape finds exactly the counts they caused."""

import re
import secrets
import socket
from decimal import Decimal

import httpx
import pytest
import redis
from django.conf import settings

from playground.models import Generation
from tests import processes as processes_module
from tests.processes import ManagedProcess, paused, process_env, wait_for
from tests.prometheus import parse, value

TOKEN = "metrics-processes-token-8c21"
MODEL = "kling/v2-1"
PROMPT = "A tram crossing a bridge at dawn"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def stack(transactional_db, local_renderer, tmp_path):
    """Start a web server and, on demand, a worker cluster, counting into one directory.

    A queue of their own (KEY_PREFIX); the session's worker processes are
    paused meanwhile, so no generation of this test is made by a process
    that does not count into the directory.
    """
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    prefix = f"reelgate-metrics-{secrets.token_hex(4)}"
    port = _free_port()
    env = process_env(
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        METRICS_TOKEN=TOKEN,
        KEY_PREFIX=prefix,
        RENDER_WORKERS="0",  # renders in the one cluster started here
        POLLERS="0",
        Q_WORKERS="1",
        MODERATION_BLOCKED_TERMS="forbiddenword",
    )
    started: list[ManagedProcess] = []

    def start(name: str, args: list[str]) -> ManagedProcess:
        process = ManagedProcess(name, args, env, tmp_path)
        started.append(process)
        return process

    url = f"http://127.0.0.1:{port}"
    with paused(processes_module.SESSION):
        web = start("web", ["runserver", "--noreload", f"127.0.0.1:{port}"])

        def answers() -> bool:
            try:
                return httpx.get(f"{url}/metrics", headers=_auth(TOKEN), timeout=2).is_success
            except httpx.HTTPError:
                return False

        wait_for(answers, timeout=60, interval=0.2, message="the web server to answer")
        yield url, web, start, metrics_dir
        for process in started:
            process.stop()
    if settings.REDIS_URL:
        client = redis.Redis.from_url(settings.REDIS_URL)
        keys = list(client.scan_iter(match=f"*{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_scrape_adds_up_the_counts_of_the_web_and_the_worker(stack, alice_key):
    url, web, start, metrics_dir = stack
    api = httpx.Client(base_url=url, headers=_auth(alice_key), timeout=30)

    def create(prompt: str) -> str:
        body = {"model": MODEL, "input": {"prompt": prompt, "resolution": "480p", "duration": 5}}
        answer = api.post("/api/v1/jobs/createTask", json=body)
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]["taskId"]

    made, blocked, cancelled = create(PROMPT), create(f"{PROMPT}, forbiddenword"), create(PROMPT)
    # Cancelled in the web process, before any worker runs.
    assert api.post("/api/v1/jobs/cancel", json={"taskId": cancelled}).status_code == 200

    worker = start("qcluster", ["qcluster"])

    def scraped() -> list:
        answer = httpx.get(f"{url}/metrics", headers=_auth(TOKEN), timeout=10)
        assert answer.status_code == 200
        return parse(answer.text)

    def settled() -> list | None:
        samples = scraped()
        finished = value(samples, "reelgate_generations_succeeded_total") + value(
            samples, "reelgate_generations_failed_total"
        )
        return samples if finished >= 3 else None

    samples = wait_for(settled, timeout=120, interval=0.5, message="three generations counted")
    assert worker.popen.poll() is None, worker.log_tail()
    rows = {g.task_id: g for g in Generation.objects.select_related("provider")}
    assert rows[made].state == Generation.SUCCESS, rows[made].fail_msg
    assert (rows[blocked].fail_code, rows[cancelled].fail_code) == (
        "CONTENT_VIOLATION",
        "CANCELLED",
    )
    provider = rows[made].provider.name

    assert value(samples, "reelgate_generations_created_total", model=MODEL, contract="jobs") == 3
    assert value(samples, "reelgate_generations_succeeded_total") == 1
    assert (
        value(samples, "reelgate_generations_succeeded_total", model=MODEL, provider=provider) == 1
    )
    failed = "reelgate_generations_failed_total"
    assert value(samples, failed, model=MODEL, code="CONTENT_VIOLATION") == 1  # the worker's
    assert value(samples, failed, model=MODEL, code="CANCELLED") == 1  # the web's
    timed = {"model": MODEL, "provider": provider}
    assert value(samples, "reelgate_generation_duration_seconds_count", **timed) == 1
    assert value(samples, "reelgate_generation_duration_seconds_sum", **timed) > 0

    def credits(name: str) -> Decimal:
        return Decimal(str(round(value(samples, name), 2)))

    quoted = {task_id: row.quoted_credits for task_id, row in rows.items()}
    assert credits("reelgate_credits_held_total") == sum(quoted.values())
    assert credits("reelgate_credits_captured_total") == rows[made].charged_credits
    # Released once by the web (the cancel) and once by the worker (the block).
    assert credits("reelgate_credits_released_total") == quoted[blocked] + quoted[cancelled]

    requests = "reelgate_http_requests_total"
    assert value(samples, requests, route="jobs-create", method="POST", status="200") == 3
    assert value(samples, requests, route="jobs-cancel", method="POST", status="200") == 1

    # The web server and the cluster's worker each wrote counts of their own.
    pids = {re.sub(r"\D", "", path.stem) for path in metrics_dir.glob("*.db")}
    assert str(web.popen.pid) in pids and len(pids) >= 2, pids
