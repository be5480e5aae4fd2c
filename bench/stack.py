"""The production profile under benchmark: its own database, key prefix and processes.

A BenchStack creates a PostgreSQL database of its own on the server of
BENCH_DATABASE_URL and uses a key prefix of its own on the Redis of
BENCH_REDIS_URL (both default to 127.0.0.1), runs `manage.py serve` against
them, and removes all of it in `close()`: the database is dropped and every
Redis key under the prefix deleted. The servers themselves may be shared
with other work on the machine, so nothing else on them is touched.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def admin_dsn(url: str) -> str:
    """A libpq URL for the server's maintenance database (from a Django-style URL)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))


class BenchStack:
    def __init__(self, *, database_url: str = "", redis_url: str = "", tag: str = ""):
        self.server_url = database_url or os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
        self.redis_url = redis_url or os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
        token = tag or secrets.token_hex(4)
        self.database = f"reelgate_bench_{token}"
        self.prefix = f"reelgate-bench-{token}"
        # One for the benchmark and every process it starts: upstream callback
        # URLs the benchmark makes must verify in the stack.
        self.secret_key = "bench-" + secrets.token_urlsafe(32)
        self.workdir = Path(tempfile.mkdtemp(prefix="reelgate-bench-"))
        self.port = free_port()
        self.database_created = False
        self.process: subprocess.Popen | None = None
        self.log_path = self.workdir / "serve.log"

    # The database and the prefix

    def create(self) -> BenchStack:
        with psycopg.connect(admin_dsn(self.server_url), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
        self.database_created = True
        return self

    @property
    def env(self) -> dict[str, str]:
        """The environment of every process of the stack, the benchmark's own included."""
        return {
            "DATABASE_URL": with_database(self.server_url, self.database),
            "REDIS_URL": self.redis_url,
            "KEY_PREFIX": self.prefix,
            "MEDIA_ROOT": str(self.workdir / "media"),
            "STATIC_ROOT": str(self.workdir / "static"),
            "SECRET_KEY": self.secret_key,
            "DEBUG": "0",
            "LOG_LEVEL": "WARNING",
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            # The product's settings plus the reference views and the
            # instant provider kind (bench/settings.py).
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            # The rate limit out of the way: one client sends everything. The
            # unfinished-task limit stays at its default (bench/run.py).
            "API_REQUESTS_PER_MINUTE": str(10**9),
            "PYTHONUNBUFFERED": "1",
        }

    @property
    def dsn(self) -> str:
        """A libpq URL of the benchmark's own database."""
        return with_database(admin_dsn(self.server_url), self.database)

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url)

    def close(self) -> None:
        """Stop the processes, drop the database, delete the keys, remove the files."""
        self.stop()
        if self.database_created:
            with psycopg.connect(admin_dsn(self.server_url), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            self.database_created = False
        client = self.redis()
        keys = list(client.scan_iter(match=f"*{self.prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
        client.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # The processes

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self, roles: str, **env: str) -> None:
        """Start `manage.py serve --roles <roles>` and wait until it answers."""
        self.stop()
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(self.port), "--roles", roles],
            cwd=ROOT,
            env={**os.environ, **self.env, **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if "web" in roles:
            self.wait_until_up()

    def wait_until_up(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"serve exited:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/bench/ceiling", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"serve did not answer within {timeout} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # as Ctrl-C would
            try:
                self.process.wait(timeout=45)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        self.log.close()

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])
