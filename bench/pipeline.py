"""The pipeline: N generations through createTask, the queue and the workers.

Every generation goes the production way — createTask over HTTP, the hold,
the Redis queue, a django-q2 worker's claim, the provider, storing the
result, the charge — with the instant provider in place of the renderer,
so what is measured is the engine. The clock is the database's: from the
first generation's created_at to the last one's completed_at; submit to
start is started_at - created_at of each.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal

import httpx

from accounts.models import CreditAccount, CreditHold
from playground.models import Generation

BODY = {
    "model": "kling/v2-1",
    "input": {"prompt": "A red fox trotting through fresh snow at dawn", "resolution": "480p"},
}


@dataclass(frozen=True)
class PipelineResult:
    count: int
    succeeded: int
    submit_seconds: float  # the client's, first request to last answer
    total_seconds: float  # first created_at to last completed_at
    start_p50: float
    start_p99: float
    charged_once: bool


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, round(share / 100 * len(ordered) + 0.4999))
    return ordered[min(rank, len(ordered)) - 1]


def submit_all(base_url: str, key: str, count: int, concurrency: int) -> list[str]:
    """POST createTask `count` times from `concurrency` threads; the task ids."""
    local = threading.local()

    def one(_: int) -> str:
        if not hasattr(local, "client"):
            local.client = httpx.Client(
                base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
            )
        answer = local.client.post("/api/v1/jobs/createTask", json=BODY)
        payload = answer.json()
        if answer.status_code != 200 or payload.get("code") != 200:
            raise RuntimeError(f"createTask answered {answer.status_code}: {answer.text[:300]}")
        return payload["data"]["taskId"]

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, range(count)))


def wait_finished(task_ids: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    rows = Generation.objects.filter(task_id__in=task_ids)
    while rows.filter(state__in=Generation.FINISHED).count() < len(task_ids):
        if time.monotonic() > deadline:
            raise RuntimeError(f"generations still unfinished after {timeout} s")
        time.sleep(0.25)


def run(base_url: str, key: str, count: int, *, concurrency: int = 16) -> PipelineResult:
    started = time.perf_counter()
    task_ids = submit_all(base_url, key, count, concurrency)
    submit_seconds = time.perf_counter() - started
    wait_finished(task_ids, timeout=max(300, count))

    rows = list(
        Generation.objects.filter(task_id__in=task_ids).values(
            "state", "created_at", "started_at", "completed_at", "charged_credits", "quoted_credits"
        )
    )
    succeeded = [row for row in rows if row["state"] == Generation.SUCCESS]
    first = min(row["created_at"] for row in rows)
    last = max(row["completed_at"] for row in rows)
    waits = [(row["started_at"] - row["created_at"]).total_seconds() for row in rows]
    # Charged exactly once: each success captured its quote, no hold is left open.
    charged = sum((row["charged_credits"] for row in rows), Decimal("0"))
    quoted = sum((row["quoted_credits"] for row in succeeded), Decimal("0"))
    open_holds = CreditHold.objects.filter(
        reference__in=[f"generation:{task_id}" for task_id in task_ids], state=CreditHold.OPEN
    ).count()
    account = CreditAccount.objects.get(team__generations__task_id=task_ids[0])
    return PipelineResult(
        count=count,
        succeeded=len(succeeded),
        submit_seconds=submit_seconds,
        total_seconds=(last - first).total_seconds(),
        start_p50=percentile(waits, 50),
        start_p99=percentile(waits, 99),
        charged_once=charged == quoted and open_holds == 0 and account.held == 0,
    )
