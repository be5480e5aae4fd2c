"""A small foreground supervisor shared by `manage.py rundev` and `manage.py serve`.

It starts child processes, waits, and stops them all together: on Ctrl-C,
on SIGTERM, or as soon as one of them exits. It never restarts a child: a
process that dies takes the others down, so whatever runs the supervisor
(systemd, a container runtime, a terminal) sees the failure and restarts
the whole set. The database and the sweeper make that safe: no work lives
only in a process.
"""

import signal
import subprocess
import time
from collections.abc import Mapping, Sequence


class Supervisor:
    def __init__(self, *, stop_timeout: float = 10):
        self.stop_timeout = stop_timeout
        self.children: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        self.children.append((name, subprocess.Popen(list(argv), env=env)))

    def run(self) -> tuple[str, int] | None:
        """Wait until asked to stop or a child exits, then stop every child.

        Returns (name, exit status) of a child that exited on its own, or
        None when the stop was asked for (Ctrl-C, SIGTERM).
        """
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exited = None
        while not stopping and exited is None:
            time.sleep(0.2)
            exited = next(
                (
                    (name, child.returncode)
                    for name, child in self.children
                    if child.poll() is not None
                ),
                None,
            )
        self.stop_all()
        return None if stopping else exited

    def stop_all(self) -> None:
        for _, child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for _, child in self.children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
