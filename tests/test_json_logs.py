"""LOG_FORMAT=json: each log line of every process one JSON object, carrying the
request id of its request and the task id of its generation.

`manage.py rundev` runs the web server, a worker, the sweeper and a poller:
their stderr is read after a real request made a real generation, the
sweeper timed one out and the poller polled one on an upstream on 127.0.0.1.
"""

import json
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from bench import settings as bench_settings
from playground import services
from playground.models import Generation, Provider
from tests.contract.fakes import JOBS, FakeUpstream, Step, finish
from tests.processes import SESSION, ManagedProcess, paused, process_env, wait_for
from tests.reliability.stack import delete_keys, free_port

BODY = {"model": "kling/v2-1", "input": {"prompt": "A lighthouse", "resolution": "480p"}}


@pytest.fixture
def rundev(transactional_db, local_renderer, tmp_path, settings):
    """`manage.py rundev` with LOG_FORMAT=json, on a queue of its own; stopped before reading."""
    # Generations finish at once (bench/settings.py's provider kind, which the
    # processes load: tests/processes.py).
    settings.PROVIDER_KINDS_EXTRA = bench_settings.PROVIDER_KINDS_EXTRA
    Provider.objects.create(name="Instant", kind="instant", priority=1)
    port = free_port()
    prefix = f"{settings.KEY_PREFIX}-logs-{port}"
    env = process_env(
        KEY_PREFIX=prefix,
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
        RENDER_WORKERS="0",
        Q_WORKERS="1",
        POLLERS="1",
        ALLOW_PRIVATE_URLS="1",
    )
    # The session's sweeper and poller would take this test's generations.
    with paused(SESSION):
        process = ManagedProcess(
            "rundev", ["rundev", "--port", str(port)], env, tmp_path, split_stderr=True
        )
        process.url = f"http://127.0.0.1:{port}"

        def answers():
            assert process.popen.poll() is None, process.err_path.read_text()
            try:
                return httpx.get(process.url + "/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(answers, timeout=60, interval=0.2, message="rundev to answer")
        try:
            yield process
        finally:
            process.stop()
    if settings.REDIS_URL:
        delete_keys(settings.REDIS_URL, prefix)


def records(process: ManagedProcess) -> list[dict]:
    """Every line the process wrote to stderr, each of which must be a JSON object."""
    lines = process.err_path.read_text().splitlines()
    parsed = [json.loads(line) for line in lines if line.strip()]
    assert all(isinstance(record, dict) for record in parsed)
    return parsed


def test_json_logs_carry_the_request_id_and_the_task_id_in_web_and_worker(rundev, alice, alice_key):
    answer = httpx.post(
        rundev.url + "/api/v1/jobs/createTask",
        json=BODY,
        headers={"Authorization": f"Bearer {alice_key}", "X-Request-ID": "probe-7f3a"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Request-ID"] == "probe-7f3a"
    task_id = answer.json()["data"]["taskId"]
    missing = httpx.get(rundev.url + "/no-such-page", timeout=10)
    made_id = missing.headers["X-Request-ID"]
    assert len(made_id) == 32

    def succeeded():
        return Generation.objects.filter(task_id=task_id, state=Generation.SUCCESS).exists()

    wait_for(succeeded, timeout=30, interval=0.2, message="the generation to succeed")

    # The sweeper times out a generation past its deadline.
    overdue = services.submit(user=alice, **BODY)
    Generation.objects.filter(pk=overdue.pk).update(
        deadline_at=timezone.now() - timedelta(seconds=1)
    )

    def timed_out():
        return Generation.objects.filter(pk=overdue.pk, fail_code="TIMEOUT").exists()

    wait_for(timed_out, timeout=30, interval=0.2, message="the sweeper to time it out")
    # Its heartbeat made the install ready.
    assert httpx.get(rundev.url + "/readyz", timeout=10).status_code == 200

    # The poller submits to an upstream, which answers a state word it does not know.
    with FakeUpstream(JOBS) as fake:
        fake.script(Step("mystery"), Step("success"))
        fake.provider_row(priority=0)
        polled = finish(services.submit(user=alice, model=JOBS.model, input=JOBS.input))
    assert polled.state == Generation.SUCCESS, polled.fail_msg
    rundev.stop()

    logged = records(rundev)
    accepted = [r for r in logged if r["request_id"] == "probe-7f3a" and r["task_id"] == task_id]
    assert accepted, "the web server's line of the accepted task"
    assert {"time", "level", "logger", "process", "message"} <= set(accepted[0])
    in_worker = [
        r for r in logged if r["task_id"] == task_id and r["process"] != accepted[0]["process"]
    ]
    assert any("succeeded" in r["message"] for r in in_worker), "the worker's lines of the task"
    assert all(r["request_id"] is None for r in in_worker)
    not_found = [r for r in logged if r["request_id"] == made_id]
    assert any(r["logger"] == "django.request" and r["level"] == "WARNING" for r in not_found)
    swept = [r for r in logged if r["task_id"] == overdue.task_id]
    assert any("TIMEOUT" in r["message"] for r in swept), "the sweeper's line of the timeout"
    in_poller = [r for r in logged if r["task_id"] == polled.task_id]
    assert any("unknown state 'mystery'" in r["message"] for r in in_poller), "the poller's line"
    # Every process of the set wrote JSON: the cluster's own lines too.
    assert any(r["logger"] == "django-q" for r in logged)
