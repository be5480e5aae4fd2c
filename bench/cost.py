"""CPU per request in one process: where the API's time goes.

The views of the HTTP runs, called through Django's test client in the
benchmark's own process: the whole middleware stack and view, no network,
no load generator, one thread. Reported per request: CPU time of this
process (`time.process_time`; PostgreSQL's and Redis's own CPU come on
top), wall time, and the SQL statements sent. When every core is busy,
requests per second follow CPU per request: this explains the ratios.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from django.db import connection, reset_queries
from django.test import Client
from django.test.utils import CaptureQueriesContext


@dataclass(frozen=True)
class Cost:
    name: str
    cpu_ms: float
    wall_ms: float
    statements: int


def per_request(name: str, call, runs: int) -> Cost:
    for _ in range(10):
        call()  # warm: connections, caches, compiled templates
    # Django empties the query log when a request starts (request_started):
    # empty it here too, so the context's starting point is the same.
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        call()
    statements = len(queries.captured_queries)  # read now: later requests empty the log
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(runs):
        call()
    return Cost(
        name=name,
        cpu_ms=(time.process_time() - cpu) * 1000 / runs,
        wall_ms=(time.perf_counter() - wall) * 1000 / runs,
        statements=statements,
    )


def measure(key: str, task_id: str, body: dict, *, runs: int) -> list[Cost]:
    client = Client(headers={"Authorization": f"Bearer {key}"})
    payload = json.dumps(body)

    def ok(answer):
        assert answer.status_code == 200, answer.content[:300]

    return [
        per_request("bare JSON view", lambda: ok(client.get("/bench/ceiling")), runs),
        per_request(
            "recordInfo",
            lambda: ok(client.get(f"/api/v1/jobs/recordInfo?taskId={task_id}")),
            runs,
        ),
        per_request(
            "createTask",
            lambda: ok(
                client.post("/api/v1/jobs/createTask", payload, content_type="application/json")
            ),
            runs,
        ),
    ]
