"""HTTP throughput and latency with wrk: the ceiling view, recordInfo and createTask.

wrk (Debian's package) is the load generator: written in C with an event
loop, it keeps 64 connections busy on a fraction of one core. A Python
client would need more CPU than the server it measures, and on two cores
it would take that CPU from the server. bench/wrk.lua adds the API key,
walks the task ids and prints its figures as one JSON line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "wrk.lua"


@dataclass(frozen=True)
class Load:
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def wrk(
    url: str, args: list[str], *, seconds: int, connections: int = 64, threads: int = 2
) -> Load:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: apt-get install -y wrk (make bench does it)")
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout=10s",
        "--latency",
        "-s",
        str(SCRIPT),
        url,
        "--",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH_JSON ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    figures = json.loads(lines[-1].removeprefix("BENCH_JSON "))
    return Load(
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        non_2xx=figures["non_2xx"],
        socket_errors=figures["socket_errors"],
        p50_ms=figures["p50_us"] / 1000,
        p90_ms=figures["p90_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        max_ms=figures["max_us"] / 1000,
    )


@dataclass(frozen=True)
class Measured:
    load: Load
    # CPU time of the whole machine (every process: gunicorn, PostgreSQL,
    # Redis, wrk) per request, from /proc/stat. Steadier than requests per
    # second on a machine whose speed varies: it says what a request costs,
    # not how much of the machine the run happened to get.
    machine_cpu_ms: float | None


def measure(
    url: str, args: list[str], *, seconds: int, warmup: int, database_dsn: str = ""
) -> Measured:
    """A short unmeasured run first: connections, worker threads and caches warm up."""
    if database_dsn:
        settle(database_dsn)
    if warmup:
        wrk(url, args, seconds=warmup)
    before = busy_seconds()
    load = wrk(url, args, seconds=seconds)
    after = busy_seconds()
    cpu_ms = None if before is None or after is None else (after - before) * 1000 / load.requests
    return Measured(load=load, machine_cpu_ms=cpu_ms)


def settle(database_dsn: str, *, quiet_share: float = 0.15, limit_s: float = 30) -> None:
    """Pay the database's background work before a run instead of during it.

    After createTask's thousands of inserts PostgreSQL flushes pages and
    autovacuum reads the new rows; in the run that follows, that CPU would
    count against whatever is measured (a ceiling run after createTask cost
    0.55 ms of machine CPU a request instead of 0.32). So: a checkpoint and
    a VACUUM ANALYZE now, then wait until the machine is quiet.
    """
    import psycopg

    with psycopg.connect(database_dsn, autocommit=True) as connection:
        connection.execute("CHECKPOINT")
        connection.execute("VACUUM (ANALYZE)")
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = busy_seconds()
        if before is None:
            return
        time.sleep(1)
        if busy_seconds() - before < quiet_share * (os.cpu_count() or 1):
            return


def busy_seconds() -> float | None:
    """Seconds of CPU the machine has spent on anything but idling, or None off Linux."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, idle, iowait, irq, softirq = fields[:7]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")
