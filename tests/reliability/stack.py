"""A production-profile stack for fault drills: web, clusters and a sweeper, each a process.

Every process runs against the session's test database with a queue (key
prefix) of its own, so the drill's tasks never mix with the session's
`worker` cluster, and a drill can kill or restart any piece. Clients talk
to the web server over HTTP, as real ones do; the test reads the database.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest
import redis
from django.conf import settings

from tests.processes import ManagedProcess, process_env, wait_for


def missing_services() -> str:
    """Why the drills cannot run here, or "" when they can."""
    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return "fault drills need PostgreSQL: set DATABASE_URL=postgres://... (CI's second leg)"
    if not settings.REDIS_URL:
        return "fault drills need Redis: set REDIS_URL=redis://... (CI's second leg)"
    return ""


# Every drill module: pytestmark = needs_services
needs_services = pytest.mark.skipif(bool(missing_services()), reason=missing_services() or "-")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (name)"
    return None if fields[0] == "Z" else int(fields[1])  # a zombie is as good as gone


def children_of(pid: int) -> list[int]:
    """Live child processes of `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and parent_of(int(entry.name)) == pid:
            found.append(int(entry.name))
    return found


def descends_from(pid: int, ancestor: int, depth: int = 4) -> bool:
    """Whether process `pid` is a child (or grandchild...) of `ancestor` (Linux /proc)."""
    for _ in range(depth):
        pid = parent_of(pid)
        if pid is None:
            return False
        if pid == ancestor:
            return True
    return False


class Stack:
    """Processes of one drill. start_* may be called again after a stop or a kill."""

    def __init__(self, log_dir: Path, **env: str):
        self.prefix = f"{settings.KEY_PREFIX}-drill-{secrets.token_hex(3)}"
        self.port = free_port()
        self.log_dir = log_dir
        self.env = process_env(
            KEY_PREFIX=self.prefix,
            ALLOW_PRIVATE_URLS="1",
            # A drill's clusters run everything, renders too: killing "the
            # cluster" then means every worker.
            RENDER_WORKERS="0",
            **env,
        )
        self.processes: list[ManagedProcess] = []
        self.web: ManagedProcess | None = None
        self.clusters: list[ManagedProcess] = []
        self.sweeper: ManagedProcess | None = None
        self.pollers: list[ManagedProcess] = []
        self._count = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def redis_url(self) -> str:
        return self.env["REDIS_URL"]

    @property
    def queue_key(self) -> str:
        return f"django_q:{self.prefix}:q"

    def _start(self, name: str, args: list[str]) -> ManagedProcess:
        self._count += 1
        process = ManagedProcess(f"{self._count:02d}-{name}", args, self.env, self.log_dir)
        self.processes.append(process)
        return process

    def start_web(self) -> ManagedProcess:
        """gunicorn through `manage.py serve --roles web`, as in production."""
        self.web = self._start("web", ["serve", "--roles", "web", "--port", str(self.port)])

        def answers():
            try:
                return httpx.get(self.url + "/api/v1/chat/credit", timeout=2).status_code == 401
            except httpx.HTTPError:
                assert self.web.popen.poll() is None, f"web died:\n{self.web.log_tail()}"
                return False

        wait_for(answers, timeout=60, interval=0.2, message="the web server to answer")
        return self.web

    def start_cluster(self) -> ManagedProcess:
        cluster = self._start("qcluster", ["qcluster"])
        self.clusters.append(cluster)
        return cluster

    def start_sweeper(self) -> ManagedProcess:
        self.sweeper = self._start("sweeper", ["sweeper"])
        return self.sweeper

    def start_poller(self) -> ManagedProcess:
        poller = self._start("poller", ["poller"])
        self.pollers.append(poller)
        return poller

    def start_all(self) -> Stack:
        self.start_sweeper()
        self.start_poller()
        self.start_cluster()
        self.start_web()
        return self

    def kill_cluster(self, cluster: ManagedProcess) -> None:
        """SIGKILL the whole cluster at once (its sentinel, pusher and workers): a machine lost."""
        os.killpg(cluster.popen.pid, signal.SIGKILL)
        cluster.popen.wait()
        self.clusters.remove(cluster)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def delete_keys(self) -> None:
        delete_keys(self.redis_url, self.prefix)

    def assert_alive(self) -> None:
        for process in (self.web, self.sweeper, *self.pollers, *self.clusters):
            if process is not None and process.popen.poll() is not None:
                raise AssertionError(f"{process.name} died:\n{process.log_tail()}")


def delete_keys(redis_url: str, prefix: str) -> None:
    """Remove what a drill left on a shared Redis: every key under its prefix."""
    try:
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"*{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
    except redis.RedisError:
        pass  # the drill's own Redis is gone already


class RedisServer:
    """A redis-server of the drill's own on a free port: it may be stopped and restarted.

    No persistence (no RDB, no AOF): a restart loses every key, as a Redis
    that crashed or was replaced does.
    """

    def __init__(self):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="reelgate-drill-redis-"))
        self.popen: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self) -> RedisServer:
        executable = shutil.which("redis-server")
        log = open(self.dir / "redis.log", "ab")
        self.popen = subprocess.Popen(
            [
                executable,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.dir),
                "--save", "",
                "--appendonly", "no",
                "--protected-mode", "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()

        def answers():
            try:
                return self.client().ping()
            except redis.RedisError:
                return False

        wait_for(answers, timeout=15, interval=0.05, message="redis-server to answer")
        return self

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()  # --save "": nothing written, every key lost
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.popen = None

    def restart(self, down_seconds: float = 0) -> None:
        self.stop()
        time.sleep(down_seconds)  # the outage itself: the drill wants Redis away this long
        self.start()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def api_client(stack: Stack, key: str) -> httpx.Client:
    return httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def create_task(stack: Stack, client: httpx.Client, body: dict) -> str:
    answer = client.post("/api/v1/jobs/createTask", json=body)
    assert answer.status_code == 200, f"{answer.text}\n{stack.web.log_tail()}"
    return answer.json()["data"]["taskId"]


def create_together(url: str, key: str | list[str], body: dict, count: int) -> list[httpx.Response]:
    """`count` createTask calls released at once, all in flight together: with one
    key, or with several keys in turn."""
    keys = [key] if isinstance(key, str) else key

    async def send_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
            start = asyncio.Event()

            async def one(key: str) -> httpx.Response:
                await start.wait()
                headers = {"Authorization": f"Bearer {key}"}
                return await client.post("/api/v1/jobs/createTask", json=body, headers=headers)

            calls = [asyncio.create_task(one(keys[n % len(keys)])) for n in range(count)]
            await asyncio.sleep(0)
            start.set()
            return await asyncio.gather(*calls)

    return asyncio.run(send_all())
