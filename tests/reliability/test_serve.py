"""`manage.py serve`, the production profile: one supervisor, everything or nothing."""

import json
import os
import signal
from pathlib import Path

import httpx
import pytest
from django.core.management import CommandError, call_command

from playground.models import Generation
from tests.processes import ManagedProcess, process_env, wait_for
from tests.prometheus import parse, value
from tests.reliability.conftest import wait_all_finished
from tests.reliability.stack import (
    children_of,
    delete_keys,
    free_port,
    needs_services,
    parent_of,
)

BODY = {"model": "kling/v2-1", "input": {"prompt": "A lighthouse", "resolution": "480p"}}
METRICS_TOKEN = "serve-metrics-token"


def test_it_refuses_to_start_without_postgresql_and_redis(settings):
    settings.DATABASE_URL = ""
    settings.REDIS_URL = ""
    with pytest.raises(CommandError) as refused:
        call_command("serve")
    assert "DATABASE_URL is not set" in str(refused.value)
    assert "REDIS_URL is not set" in str(refused.value)
    assert "make run" in str(refused.value)


@pytest.fixture
def serve(transactional_db, instant_provider, tmp_path, settings):
    """`manage.py serve` with two clusters, on a queue of its own."""
    port = free_port()
    prefix = f"{settings.KEY_PREFIX}-serve-{port}"
    env = process_env(KEY_PREFIX=prefix, Q_CLUSTERS="2", METRICS_TOKEN=METRICS_TOKEN)
    process = ManagedProcess("serve", ["serve", "--port", str(port)], env, tmp_path)
    process.url = f"http://127.0.0.1:{port}"
    process.prefix = prefix

    def answers():
        assert process.popen.poll() is None, process.log_tail()
        try:
            return httpx.get(process.url + "/api/v1/chat/credit", timeout=2).status_code == 401
        except httpx.HTTPError:
            return False

    wait_for(answers, timeout=60, interval=0.2, message="serve to answer")
    yield process
    process.stop()
    delete_keys(settings.REDIS_URL, prefix)


def wait_gone(pids: list[int]) -> None:
    def gone():
        return all(parent_of(pid) is None for pid in pids)

    wait_for(gone, timeout=45, interval=0.2, message=f"processes {pids} to exit")


def environ(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/environ", "rb") as handle:
        pairs = handle.read().decode(errors="replace").split("\0")
    return dict(pair.split("=", 1) for pair in pairs if "=" in pair)


def command_line(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        return handle.read().replace(b"\0", b" ").decode()


@needs_services
def test_it_runs_web_clusters_sweeper_and_poller_and_ctrl_c_stops_them_all(serve, alice, alice_key):
    children = children_of(serve.popen.pid)
    commands = sorted(command_line(pid) for pid in children)
    # gunicorn, 2 clusters, the render cluster, the sweeper, the poller
    assert len(children) == 6, commands
    assert sum("manage.py poller" in command for command in commands) == 1, commands
    queues = [environ(pid).get("Q_CLUSTER_NAME") for pid in children]
    assert queues.count(f"{serve.prefix}-renders") == 1, queues
    # Every process counts into the one directory /metrics adds up.
    (metrics_dir,) = {environ(pid).get("PROMETHEUS_MULTIPROC_DIR") for pid in children}
    assert metrics_dir and Path(metrics_dir).is_dir()

    headers = {"Authorization": f"Bearer {alice_key}"}
    answer = httpx.post(serve.url + "/api/v1/jobs/createTask", json=BODY, headers=headers)
    assert answer.status_code == 200, answer.text
    (generation,) = wait_all_finished([answer.json()["data"]["taskId"]], timeout=60)
    assert generation.state == Generation.SUCCESS

    def counted():
        scrape = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        samples = parse(httpx.get(serve.url + "/metrics", headers=scrape, timeout=10).text)
        return samples if value(samples, "reelgate_generations_succeeded_total") else None

    # Created in a gunicorn worker, made in a cluster's worker: one scrape has both.
    samples = wait_for(counted, timeout=15, interval=0.2, message="the success to be counted")
    assert value(samples, "reelgate_generations_created_total", contract="jobs") == 1
    assert value(samples, "reelgate_generations_succeeded_total", provider="Instant") == 1

    serve.popen.send_signal(signal.SIGINT)
    assert serve.popen.wait(timeout=45) == 0
    wait_gone(children)
    assert not Path(metrics_dir).exists()  # the run's own, removed with it


@needs_services
def test_when_one_process_dies_it_stops_the_others_and_fails(serve):
    children = children_of(serve.popen.pid)
    sweeper = next(pid for pid in children if "sweeper" in command_line(pid))
    os.kill(sweeper, signal.SIGKILL)
    assert serve.popen.wait(timeout=45) != 0
    wait_gone(children)
    assert "sweeper exited" in serve.log_tail()


def listening_sockets(pid: int, port: int) -> set[int]:
    """Inodes of the TCP sockets process `pid` holds that listen on `port` (Linux /proc)."""
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                local, state, inode = fields[1], fields[3], int(fields[9])
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                    listening.add(inode)
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            held.add(int(target[len("socket:[") : -1]))
    return listening & held


@needs_services
def test_every_web_worker_listens_on_a_socket_of_its_own(serve):
    # With one socket shared by all workers, the worker that wakes first
    # accepts a burst of keep-alive connections alone and serves them on one
    # core while the others idle (bench/README.md). A socket per worker lets
    # the kernel spread connections over them.
    port = int(serve.url.rsplit(":", 1)[1])
    (gunicorn,) = [pid for pid in children_of(serve.popen.pid) if "gunicorn" in command_line(pid)]
    workers = children_of(gunicorn)
    assert len(workers) == 2, [command_line(pid) for pid in workers]  # WEB_WORKERS' default
    sockets = [listening_sockets(pid, port) for pid in workers]
    assert all(len(held) == 1 for held in sockets), sockets
    assert len(set.union(*sockets)) == len(workers), sockets


@needs_services
def test_with_json_logs_every_line_it_writes_is_a_json_object(transactional_db, tmp_path, settings):
    """gunicorn's own lines and the command's too, not only the app's (LOG_FORMAT=json)."""
    port = free_port()
    prefix = f"{settings.KEY_PREFIX}-serve-json-{port}"
    env = process_env(KEY_PREFIX=prefix, LOG_FORMAT="json")
    process = ManagedProcess(
        "serve-json", ["serve", "--roles", "web", "--port", str(port)], env, tmp_path
    )
    url = f"http://127.0.0.1:{port}/healthz"

    def answers():
        assert process.popen.poll() is None, process.log_tail()
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(answers, timeout=60, interval=0.2, message="serve to answer")
        httpx.get(url + "-not-a-route", headers={"X-Request-ID": "probe-1"}, timeout=5)
    finally:
        process.stop()
        delete_keys(settings.REDIS_URL, prefix)

    lines = [line for line in process.log_path.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # any plain-text line fails here
    assert all(isinstance(record, dict) for record in records), lines
    assert any(r["logger"] == "gunicorn.error" for r in records), lines  # its start
    assert any(r.get("request_id") == "probe-1" for r in records), lines  # the 404's line
