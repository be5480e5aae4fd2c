"""Real Reelgate processes for tests: a django-q2 cluster and the sweeper.

They run `manage.py` in subprocesses against the test database, so what
they do goes through the same code, database and queue as production.
"""

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def manage(env: dict, *args: str, timeout: float = 120) -> str:
    """Run one `manage.py` command to its end in `env`; its output, or a failed test."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def database_url() -> str:
    """The URL of the test database this session created."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def process_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url(),
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        SECRET_KEY=settings.SECRET_KEY,
        ALLOW_PRIVATE_URLS="1" if settings.ALLOW_PRIVATE_URLS else "0",
        GENERATION_LEASE_SECONDS=str(settings.GENERATION_LEASE_SECONDS),
        REDISPATCH_SECONDS=str(settings.REDISPATCH_SECONDS),
        POLL_FIRST_SECONDS=str(settings.POLL_FIRST_SECONDS),
        POLL_MAX_SECONDS=str(settings.POLL_MAX_SECONDS),
        SWEEP_SECONDS="1",
        # Every worker of one database must run every provider kind in use:
        # the session's sweeper may hand a drill's generation (the instant
        # provider, bench/settings.py) to the session's cluster, which would
        # fail it otherwise.
        DJANGO_SETTINGS_MODULE="bench.settings",
        Q_WORKERS="2",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


try:
    # Resolved here, in the parent: the child between fork and exec must not
    # load libraries (another thread may have held the loader's lock).
    _prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
except (OSError, AttributeError):  # not glibc: the fixtures' teardown is all there is
    _prctl = None


def _die_with_parent() -> None:
    """In the child: end it when the test run ends, however that ends.

    A test run killed from outside (a timeout) skips fixture teardown; on
    Linux the kernel still stops its worker processes instead of leaving
    them polling a deleted database.
    """
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


# The session's worker processes (tests/conftest.py), once a test started them.
SESSION: list["ManagedProcess"] = []


@contextmanager
def paused(processes: list["ManagedProcess"]) -> Iterator[None]:
    """Stop these processes (and their children) for the block, then let them go on.

    A drill's stack shares the test database with the session's sweeper and
    poller, which would otherwise take the drill's generations as their own
    work: correct, but not the drill under test.
    """
    stopped = [process for process in processes if process.popen.poll() is None]
    for process in stopped:
        os.killpg(process.popen.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for process in stopped:
            os.killpg(process.popen.pid, signal.SIGCONT)


class ManagedProcess:
    def __init__(
        self,
        name: str,
        args: list[str],
        env: dict[str, str],
        log_dir: Path,
        *,
        split_stderr: bool = False,
    ):
        """`split_stderr`: stderr (where the log goes) to `err_path`, apart from stdout."""
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.err_path = log_dir / f"{name}.err.log" if split_stderr else self.log_path
        self._log = open(self.log_path, "wb")
        self._err = open(self.err_path, "wb") if split_stderr else None
        self.popen = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=self._err or subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as one
            preexec_fn=_die_with_parent,
        )

    def stop(self, timeout: float = 15) -> None:
        if self.popen.poll() is None:
            # The main process only: django-q2's sentinel stops its own
            # children in order, which a signal to the whole group disrupts.
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self._log.close()
        if self._err is not None:
            self._err.close()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def wait_for(predicate, *, timeout: float, interval: float = 0.1, message: str = ""):
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message or predicate}")
        time.sleep(interval)


def never(predicate, *, seconds: float, interval: float = 0.05, message: str = "") -> None:
    """Poll `predicate` for `seconds`; fail the moment it returns something truthy.

    For "nothing more happened" when nothing marks the end of the chance for
    it to happen (a duplicate task another worker may still run): first
    wait_for the event that must come before, then give the extra one this
    long to show.
    """
    deadline = time.monotonic() + seconds
    while True:
        if predicate():
            raise AssertionError(f"{message or predicate} happened within {seconds} s")
        if time.monotonic() > deadline:
            return
        time.sleep(interval)
