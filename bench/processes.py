"""CPU time per process, from /proc: which process of the stack used how much of the machine.

A CpuMeter reads utime + stime of every process (/proc/<pid>/stat) once a
period, in a thread of its own, and adds each process's growth since the
previous reading to the group a classifier puts it in ("poller",
"workers", "database", ...). A process that exits between two readings
loses at most its last period; one born after the meter started counts
from its birth. Linux only: elsewhere the meter records nothing.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bench.load import busy_seconds

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def read_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds so far) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name, in parentheses, may itself hold spaces and parentheses.
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def snapshot() -> dict[int, tuple[int, float]]:
    """Every process: pid -> (parent pid, CPU seconds)."""
    processes = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            stat = read_stat(int(entry.name))
            if stat is not None:
                processes[int(entry.name)] = stat
    return processes


def descendants(root: int, processes: dict[int, tuple[int, float]]) -> set[int]:
    """`root` and every process below it."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    found, stack = set(), [root]
    while stack:
        pid = stack.pop()
        if pid in processes and pid not in found:
            found.add(pid)
            stack.extend(children.get(pid, []))
    return found


def command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


# A classifier: given a snapshot, the group of each process worth counting.
Classifier = Callable[[dict[int, tuple[int, float]]], dict[int, str]]


class CpuMeter:
    """Per-group CPU seconds in each period.

    `samples` is [(time, seconds since the previous reading, {group: CPU seconds})];
    the group "machine" is every process of the machine (/proc/stat), the
    benchmark's neighbours included.
    """

    def __init__(self, classify: Classifier, *, period: float = 1.0) -> None:
        self.classify = classify
        self.period = period
        self.samples: list[tuple[float, float, dict[str, float]]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-meter", daemon=True)

    def start(self) -> CpuMeter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        if not Path("/proc/self/stat").exists():
            return
        last = {pid: cpu for pid, (_, cpu) in snapshot().items()}
        last_at, last_busy = time.time(), busy_seconds()
        while not self._stop.wait(self.period):
            processes, at, busy = snapshot(), time.time(), busy_seconds()
            try:
                groups = self.classify(processes)
            except Exception as exc:  # a reading lost, not the meter
                self.errors.append(str(exc))
                groups = {}
            spent: dict[str, float] = {}
            for pid, (_, cpu) in processes.items():
                grown = cpu - last.get(pid, 0.0)
                group = groups.get(pid)
                if group is not None and grown > 0:
                    spent[group] = spent.get(group, 0.0) + grown
            spent["machine"] = busy - last_busy
            self.samples.append((at, at - last_at, spent))
            last = {pid: cpu for pid, (_, cpu) in processes.items()}
            last_at, last_busy = at, busy

    def cores(self, group: str, start: float, end: float) -> float:
        """Mean cores the group used between two moments (seconds since the epoch)."""
        inside = [(elapsed, spent) for at, elapsed, spent in self.samples if start < at <= end]
        elapsed = sum(elapsed for elapsed, _ in inside)
        if not elapsed:
            return 0.0
        return sum(spent.get(group, 0.0) for _, spent in inside) / elapsed

    def peak(self, group: str, start: float, end: float, window: float = 10.0) -> float:
        """The most cores the group used in any `window` seconds between the two moments."""
        best, at = 0.0, start
        while at + window <= end + self.period:
            best = max(best, self.cores(group, at, at + window))
            at += self.period
        return best
